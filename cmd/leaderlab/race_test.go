//go:build race

package main

// raceBuild builds the binary under test with -race when its tests run with
// -race, so that the command's own goroutines (progress, workers) are checked.
const raceBuild = true
