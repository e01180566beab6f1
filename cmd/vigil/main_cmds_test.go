package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// A mistyped subcommand fails, with a suggestion, so a CI step running
// `vigil rules tset` does not pass without testing anything; a group
// command alone still prints its help.
func TestUnknownSubcommandFails(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string // "" for success
	}{
		{[]string{"rules", "tset", "rules/pack"}, `unknown command "tset" for "vigil rules"; did you mean "test"?`},
		{[]string{"rules", "import", "x"}, `unknown command "import" for "vigil rules"`},
		{[]string{"incidents", "lst"}, `did you mean "list"?`},
		{[]string{"es", "nosuch"}, `unknown command "nosuch" for "vigil es"`},
		{[]string{"nosuch"}, `unknown command "nosuch" for "vigil"`},
		{[]string{"rules"}, ""},
	}
	for _, tc := range tests {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(tc.args)
		err := root.Execute()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("vigil %s: %v", strings.Join(tc.args, " "), err)
		case tc.wantErr == "" && !strings.Contains(out.String(), "Usage:"):
			t.Errorf("vigil %s printed no help: %q", strings.Join(tc.args, " "), out.String())
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("vigil %s: err = %v, want one containing %q", strings.Join(tc.args, " "), err, tc.wantErr)
		}
	}
}

// Every command that groups others rejects unknown words: none is left
// out when a group is added.
func TestEveryGroupCommandRejectsUnknownWords(t *testing.T) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() && c.HasParent() {
			if c.RunE == nil {
				t.Errorf("%s: runs nothing, so cobra would print its help and exit 0 on an unknown word", c.CommandPath())
			} else if err := c.RunE(c, []string{"zzz-not-a-command"}); err == nil {
				t.Errorf("%s zzz-not-a-command: no error", c.CommandPath())
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot())
}
