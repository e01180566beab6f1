package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vigil-siem/vigil/kibana"
)

func newKibanaCmd() *cobra.Command {
	var opts kibana.Options
	cmd := &cobra.Command{Use: "kibana", Short: "Kibana administration"}
	setup := &cobra.Command{
		Use:   "setup --url URL",
		Short: "Import Vigil's data views, the SOC overview dashboard and the Triage queue into Kibana",
		Long: "Imports the saved objects shipped with Vigil through POST /api/saved_objects/_import?overwrite=true " +
			"and prints the result of each object. Credentials come from the environment: " + kibana.EnvAPIKey + " (an API key, " +
			"base64 id:api_key), or " + kibana.EnvUsername + " and " + kibana.EnvPassword + ".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.URL == "" {
				return fmt.Errorf("kibana setup: --url is required")
			}
			opts.APIKey = os.Getenv(kibana.EnvAPIKey)
			opts.Username = os.Getenv(kibana.EnvUsername)
			opts.Password = os.Getenv(kibana.EnvPassword)
			return kibana.Setup(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	setup.Flags().StringVar(&opts.URL, "url", "", "Kibana's base URL, e.g. https://kibana.example.com:5601")
	setup.Flags().StringVar(&opts.Space, "space", "", "Kibana space (default: the default space)")
	setup.Flags().StringVar(&opts.CACertFile, "ca-cert", "", "CA certificate file for Kibana's TLS")
	cmd.AddCommand(setup)
	return cmd
}
