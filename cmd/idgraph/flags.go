package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/idgraph/idgraph/internal/config"
)

// flagSet is a flag.FlagSet whose flags fall back to IDGRAPH_* variables.
type flagSet struct {
	*flag.FlagSet
	getenv func(string) string
}

func newFlagSet(name string, getenv func(string) string, stderr io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flagSet{FlagSet: fs, getenv: getenv}
}

// envName is the variable of a flag: --data-dir → IDGRAPH_DATA_DIR.
func envName(flagName string) string {
	return "IDGRAPH_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f *flagSet) str(p *string, name, def, usage string) {
	if v := f.getenv(envName(name)); v != "" {
		def = v
	}
	f.StringVar(p, name, def, usage+" ("+envName(name)+")")
}

func (f *flagSet) boolean(p *bool, name string, usage string) {
	def := false
	switch strings.ToLower(f.getenv(envName(name))) {
	case "1", "true", "yes", "on":
		def = true
	}
	f.BoolVar(p, name, def, usage+" ("+envName(name)+")")
}

func (f *flagSet) duration(p *time.Duration, name string, def time.Duration, usage string) {
	if v := f.getenv(envName(name)); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			def = d
		}
	}
	f.DurationVar(p, name, def, usage+" ("+envName(name)+")")
}

// parse parses args and refuses arguments that are not flags.
func (f *flagSet) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", f.Name(), f.Arg(0))
	}
	return nil
}

// commonFlags binds the flags every command that opens the data needs.
func commonFlags(f *flagSet, c *config.Config) {
	d := config.Default()
	f.str(&c.DataDir, "data-dir", d.DataDir, "data directory")
	f.str(&c.Store, "store", "", "where the data lives: empty for the embedded store in the data directory, "+
		"or a postgres:// URL that several replicas can share")
	// The secret key is read from the environment only, so it never shows in
	// a process list.
	c.SecretKey = f.getenv("IDGRAPH_SECRET_KEY")
}

// splitList splits a comma- or space-separated list.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}
