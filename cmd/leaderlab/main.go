package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Exit statuses, as kubectl and helm use them.
const (
	exitOK     = 0 // done, every check passed
	exitFailed = 1 // a check failed (an invariant, an expectation) or the work could not be done
	exitUsage  = 2 // bad flags, an unknown scenario or preset, an impossible requirement
)

func main() {
	// A run allocates a few MB and keeps almost nothing, so the collector's
	// default pace (GOGC=100) spends a large share of a bench on garbage a
	// bench never lacks memory for: 400 roughly halves that share, for a
	// heap of tens of MB. GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}

// execute runs the command line args and returns the exit status. Commands
// that simulate never return here: they exit from withT.
func execute(args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "leaderlab: %v\n", err)
	var usage *usageError
	if errors.As(err, &usage) {
		fmt.Fprintf(stderr, "see '%s --help'\n", commandName(root, args))
		return exitUsage
	}
	return exitFailed
}

// commandName is the command args name: "leaderlab bench", or
// "leaderlab" for the root.
func commandName(root *cobra.Command, args []string) string {
	cmd, _, err := root.Find(args)
	if err != nil {
		return root.Name()
	}
	return cmd.CommandPath()
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "leaderlab",
		Short: "What client-go's leader election does under your timing: benchmark, run, advise",
		Long: "leaderlab runs real client-go leader electors in virtual time against a simulated API server,\n" +
			"over the scenario catalog of github.com/leaderlab/leaderlab/scenarios, and checks what it sees\n" +
			"against client-go's failover arithmetic (scenarios.Bounds).\n\n" +
			"Exit status: 0 done, 1 a check failed, 2 bad usage.",
		SilenceUsage:  true,
		SilenceErrors: true,
		// A bare "leaderlab" or an unknown subcommand is bad usage.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q; the commands are bench, run, advise, explore, operators and merge", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("a command is needed: bench, run, advise, operators or merge")
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usagef("%v", err) })
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newBench(), newMerge(), newRun(), newAdvise(), newOperators(), newExplore())
	return root
}
