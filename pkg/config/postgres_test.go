package config

import (
	"io"
	"strings"
	"testing"
)

func TestPostgresImageRepository(t *testing.T) {
	tests := map[string]struct {
		args    []string
		env     map[string]string
		want    string
		wantErr string
	}{
		"default":            {want: "postgres"},
		"env":                {env: map[string]string{"FLEETHUB_POSTGRES_IMAGE_REPOSITORY": "mirror.example.com/library/postgres"}, want: "mirror.example.com/library/postgres"},
		"flag beats env":     {args: []string{"--postgres-image-repository=registry:5000/pg"}, env: map[string]string{"FLEETHUB_POSTGRES_IMAGE_REPOSITORY": "other"}, want: "registry:5000/pg"},
		"registry port ok":   {args: []string{"--postgres-image-repository=localhost:5000/postgres"}, want: "localhost:5000/postgres"},
		"tag refused":        {args: []string{"--postgres-image-repository=postgres:16"}, wantErr: "must not carry a tag"},
		"digest refused":     {args: []string{"--postgres-image-repository=postgres@sha256:abc"}, wantErr: "digest"},
		"empty refused":      {args: []string{"--postgres-image-repository="}, wantErr: "postgres-image-repository: must not be empty"},
		"whitespace refused": {env: map[string]string{"FLEETHUB_POSTGRES_IMAGE_REPOSITORY": "my postgres"}, wantErr: "whitespace"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := Parse(tc.args, env(tc.env), io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want error %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.PostgresImageRepository != tc.want {
				t.Errorf("repository = %q, want %q", c.PostgresImageRepository, tc.want)
			}
		})
	}
}
