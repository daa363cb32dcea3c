// Package svgdoc writes the project's SVG pictures (the simulator's
// timeline, the failover histograms, the comparison with a real API server)
// with one header: a white page in an 11-point monospace font and a title.
package svgdoc

import (
	"fmt"
	"html"
	"strings"
)

// Doc is a picture being written.
type Doc struct{ b strings.Builder }

// New starts a picture of width x height with title at its top left.
func New(width, height int, title string) *Doc {
	d := &Doc{}
	fmt.Fprintf(&d.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="monospace" font-size="11">`+"\n", width, height, width, height)
	d.b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	d.Printf(`<text x="10" y="20" font-size="13">%s</text>`+"\n", html.EscapeString(title))
	return d
}

// Printf writes elements.
func (d *Doc) Printf(format string, args ...any) { fmt.Fprintf(&d.b, format, args...) }

// WriteString writes elements.
func (d *Doc) WriteString(s string) { d.b.WriteString(s) }

// Bytes ends the picture and returns it.
func (d *Doc) Bytes() []byte {
	d.b.WriteString("</svg>\n")
	return []byte(d.b.String())
}
