// Command extract lists every translatable text of the application, with
// where it is used and why it reaches people, as a JSON array of
// extract.Message (see package extract).
//
//	go run ./internal/i18n/extract/cmd/extract [-root .] [-o FILE]
//
// The list is written to internal/i18n/extract/strings.json by default, not
// into internal/i18n/messages: the catalog embeds and loads every .json file
// there as a language, and this array is not one. -o - writes to standard
// output.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/attache-org/attache/internal/i18n/extract"
)

// defaultOut is where the list goes, from the repository's root.
const defaultOut = "internal/i18n/extract/strings.json"

func main() {
	root := flag.String("root", ".", "the repository's root (where go.mod is)")
	out := flag.String("o", "", "the file to write (default ROOT/"+defaultOut+"; - for standard output)")
	flag.Parse()
	if err := run(*root, *out); err != nil {
		fmt.Fprintln(os.Stderr, "extract:", err)
		os.Exit(1)
	}
}

func run(root, out string) error {
	msgs, err := extract.Scan(root)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(msgs); err != nil {
		return err
	}
	if out == "-" {
		_, err := os.Stdout.Write(buf.Bytes())
		return err
	}
	if out == "" {
		out = filepath.Join(root, filepath.FromSlash(defaultOut))
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "extract: %d messages written to %s\n", len(msgs), out)
	return nil
}
