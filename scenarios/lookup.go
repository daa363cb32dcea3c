package scenarios

// Lookup returns the catalog's scenario with the given ID.
func Lookup(id string) (Scenario, bool) {
	for _, s := range Catalog() {
		if s.ID == id {
			return s, true
		}
	}
	return Scenario{}, false
}
