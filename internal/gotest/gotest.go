// Package gotest knows where `go test` runs a test binary (in its package's
// directory), so that replay hints and reports can name the package and the
// module root.
package gotest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ModuleRoot is the nearest directory at or above dir with a go.mod, or dir.
func ModuleRoot(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// PackageDir is the running test's package relative to its module root, as
// go test takes it ("./sim"; "." when it cannot tell).
func PackageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	rel, err := filepath.Rel(ModuleRoot(wd), wd)
	if err != nil || rel == "." {
		return "."
	}
	return "./" + filepath.ToSlash(rel)
}

// Command is the go test command that runs exactly the test named
// testName (a subtest path such as "TestFailover/crash/seed-1") again: go
// test's -run splits its pattern at slashes and matches each part
// unanchored, so every part is quoted and anchored.
func Command(testName string) string {
	return fmt.Sprintf("go test %s -count=1 -run '%s'", PackageDir(), strings.ReplaceAll(RunPattern(testName), "'", `'\''`))
}

// RunPattern is the -run pattern that selects exactly the test named
// testName.
func RunPattern(testName string) string {
	parts := strings.Split(testName, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}
