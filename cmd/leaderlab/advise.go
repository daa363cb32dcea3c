package main

import "github.com/spf13/cobra"

func newAdvise() *cobra.Command { return &cobra.Command{Use: "advise"} }
