package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
)

func newRulesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Tools for detection engineers: lint and test rule files",
	}
	cmd.AddCommand(newRulesLintCmd(g), newRulesTestCmd(g))
	return cmd
}

// openRules is what lint and test work on: the rules of args (ruleSource)
// and the load options, with the lists of --lists or detect.lists.
func openRules(g *globals, args []string, listsFlag string) (fsys fs.FS, root, name string, opts []rules.LoadOption, err error) {
	if fsys, root, name, err = ruleSource(args); err != nil {
		return nil, "", "", nil, err
	}
	lists, err := listsDir(g, listsFlag)
	if err != nil {
		return nil, "", "", nil, err
	}
	return fsys, root, name, ruleOptions(lists), nil
}

// listsDir is the directory of in_list() lists: --lists, or else
// detect.lists of the configuration (-c, VIGIL_DETECT_LISTS), as the
// detect stage and scan read them.
func listsDir(g *globals, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return "", err
	}
	return cfg.Detect.Lists, nil
}

// ruleSource returns the rules to work on: a directory, a single rule
// file, or the built-in pack when none is given, with the file system's
// root and a name for the summary.
func ruleSource(args []string) (fsys fs.FS, root, name string, err error) {
	if len(args) == 0 {
		return rules.Pack(), ".", "built-in pack", nil
	}
	fsys, root, err = rules.OpenPath(args[0])
	return fsys, root, args[0], err
}

// parseLog lets rule tests read log files through the collectors.
func parseLog(format string, data []byte) ([]event.Event, error) {
	p, err := collectors.NewParser(format, collectors.ParserConfig{Reference: time.Now(), Location: time.UTC})
	if err != nil {
		return nil, err
	}
	var out []event.Event
	_, err = collectors.Read("test-log", bytes.NewReader(data), p, func(e event.Event) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

func ruleOptions(lists string) []rules.LoadOption {
	opts := []rules.LoadOption{rules.WithParseFunc(parseLog)}
	if lists != "" {
		opts = append(opts, rules.WithLists(lists))
	}
	return opts
}

func newRulesLintCmd(g *globals) *cobra.Command {
	var lists string
	cmd := &cobra.Command{
		Use:   "lint [DIR|FILE]",
		Short: "Check rule files: schema, expressions, ECS field names, duplicate ids, ATT&CK tags",
		Long: "Reports each problem as file:line: error|warning: message. Errors stop a rule from loading; " +
			"warnings (a field that is not ECS, with the closest ECS name; a stateful rule without a positive " +
			"and a negative test) do not. Exits non-zero when there is an error. DIR (or one rule FILE) defaults to the built-in pack.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fsys, root, name, opts, err := openRules(g, args, lists)
			if err != nil {
				return err
			}
			findings := rules.Lint(fsys, root, opts...)
			errors := 0
			for _, f := range findings {
				fmt.Fprintln(cmd.OutOrStdout(), f)
				if f.Severity == rules.SeverityError {
					errors++
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d errors, %d warnings\n", name, errors, len(findings)-errors)
			if errors > 0 {
				return fmt.Errorf("%d errors in %s", errors, name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&lists, "lists", "", "directory of lists for in_list() (name.txt, one value per line; default detect.lists)")
	return cmd
}

func newRulesTestCmd(g *globals) *cobra.Command {
	var lists string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test [DIR|FILE]",
		Short: "Run the tests written in rule files (inline events or log files) and compare the alerts",
		Long: "Runs every rule's tests: section on a fresh engine, with time taken from the events, and prints " +
			"per rule PASS or FAIL with a diff, like go test; the tests of a disabled rule are skipped. Exits non-zero " +
			"when a test fails. DIR (or one rule FILE) defaults to the built-in pack.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fsys, root, name, opts, err := openRules(g, args, lists)
			if err != nil {
				return err
			}
			results := rules.RunTests(fsys, root, opts...)
			rules.WriteTestResults(cmd.OutOrStdout(), results, verbose)
			// The counts of the summary line: a load error is not a test.
			if sum := rules.SummarizeTests(results); !sum.OK() {
				return fmt.Errorf("%s in %s", sum, name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&lists, "lists", "", "directory of lists for in_list() (name.txt, one value per line; default detect.lists)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print passing tests too")
	return cmd
}
