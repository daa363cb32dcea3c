package main

import (
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/spf13/cobra"

	"github.com/leaderlab/leaderlab/scenarios/benchmark"
)

func newMerge() *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:   "merge PARTIAL.json...",
		Short: "Combine the partial results of bench --shard into one table and report",
		Long: "merge reads the partial-I-of-N.json files that bench --shard I/N wrote, checks that they are\n" +
			"the N slices of one bench, each once, and writes the same table, report and pictures as one\n" +
			"bench of all the seeds (it runs each representative run again; runs replay exactly).",
		Example: "  leaderlab merge /partials/partial-*-of-8.json --out report",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("merge needs the partial results to merge, such as partials/partial-*-of-4.json")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var parts []partial
			for _, path := range args {
				p, err := readPartial(path)
				if err != nil {
					return err
				}
				parts = append(parts, p)
			}
			return mergeAndReport(parts, o.out, o.json, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.register(cmd)
	return cmd
}

// mergeAndReport checks that parts are every shard of one bench, once each,
// merges them and reports as bench does.
func mergeAndReport(parts []partial, out string, asJSON bool, stdout, stderr io.Writer) error {
	if err := checkShards(parts); err != nil {
		return err
	}
	s := parts[0].Spec
	withT(stderr, func(t *testing.T) int {
		var all [][]benchmark.Result
		for _, p := range parts {
			all = append(all, p.Results)
		}
		results, err := s.bench().Merge(t, all...)
		if err != nil {
			fmt.Fprintf(stderr, "leaderlab: %v\n", err)
			return exitFailed
		}
		return report(results, s, out, asJSON, stdout, stderr)
	})
	return nil
}

// checkShards reports partial results of different benches, a shard given
// twice or one missing.
func checkShards(parts []partial) error {
	n := parts[0].Shard.Count
	have := map[int]bool{}
	for _, p := range parts {
		if !reflect.DeepEqual(p.Spec, parts[0].Spec) {
			return usagef("merge: shard %v measured another bench than shard %v:\n  %s\n  %s", p.Shard, parts[0].Shard, benchCommand(p.Spec), benchCommand(parts[0].Spec))
		}
		if p.Shard.Count != n {
			return usagef("merge: shard %v is one of %d shards, shard %v one of %d", p.Shard, p.Shard.Count, parts[0].Shard, n)
		}
		if have[p.Shard.Index] {
			return usagef("merge: shard %v is given twice", p.Shard)
		}
		have[p.Shard.Index] = true
	}
	for i := 1; i <= n; i++ {
		if !have[i] {
			return usagef("merge: shard %d/%d is missing (%d of %d shards given)", i, n, len(parts), n)
		}
	}
	return nil
}
