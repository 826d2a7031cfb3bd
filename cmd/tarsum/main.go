// Command tarsum prints Docker's TarSum of a tar archive (plain, gzip or
// zstd), like nixpkgs' tarsum: the checksum moby computes, for every
// version and hash moby knows.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/go-dockertools/dockertools/lib/cmdrun"
	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/tarsum"
	"github.com/urfave/cli/v2"
)

const tool = "tarsum"

func main() {
	cmdrun.Setup()
	cmdrun.Exit(tool, newApp().Run(versionArgs(os.Args)))
}

// versionArgs accepts nixpkgs' and the spelling "--version v1":
// followed by a TarSum version, --version selects it; alone, it prints the
// tool's version like every other command.
func versionArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if (a == "--version" || a == "-version") && i+1 < len(args) {
			if _, err := tarsum.ParseVersion(args[i+1]); err == nil {
				out = append(out, "--tarsum-version", args[i+1])
				i++
				continue
			}
		}
		if v, ok := strings.CutPrefix(a, "--version="); ok {
			out = append(out, "--tarsum-version="+v)
			continue
		}
		out = append(out, a)
	}
	return out
}

func newApp() *cli.App {
	return &cli.App{
		Name:      tool,
		Usage:     "print Docker's TarSum of a tar archive",
		UsageText: "tarsum [--version v1|v0|dev] [--hash sha256|sha512] [--extra FILE] [FILE]",
		Description: `Reads a tar archive from FILE, or stdin when FILE is absent or "-", and
prints its TarSum, e.g. tarsum.v1+sha256:<hex>. Gzip- and zstd-compressed
archives are recognised by their first bytes. "--version VERSION" is the same
as --tarsum-version; --version alone prints the tool's version.

Examples:
  tarsum < layer.tar
  tarsum --version dev --extra json layer.tar.gz`,
		Version:         cmdrun.Version,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "tarsum-version", Aliases: []string{"V"}, Value: "v1", Usage: "TarSum `VERSION`: v0, v1 or dev"},
			&cli.StringFlag{Name: "hash", Value: "sha256", Usage: "`HASH`: sha256 or sha512"},
			&cli.StringFlag{Name: "extra", Usage: "hash the bytes of `FILE` before the per-file sums (moby's Sum(extra))"},
		},
		Action:         run,
		OnUsageError:   func(_ *cli.Context, err error, _ bool) error { return cmdrun.Usage(err) },
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

func run(c *cli.Context) error {
	v, err := tarsum.ParseVersion(c.String("tarsum-version"))
	if err != nil {
		return cmdrun.Usage(err)
	}
	hashName := c.String("hash")
	if hashName != "sha256" && hashName != "sha512" {
		return cmdrun.Usagef("--hash: unknown hash %q (want sha256 or sha512)", hashName)
	}
	if c.NArg() > 1 {
		return cmdrun.Usagef("one archive at a time (got %d)", c.NArg())
	}
	var extra []byte
	if name := c.String("extra"); name != "" {
		if extra, err = os.ReadFile(name); err != nil {
			return fmt.Errorf("--extra: %w", err)
		}
	}
	name, in := "stdin", io.Reader(os.Stdin)
	if arg := c.Args().First(); arg != "" && arg != "-" {
		f, err := os.Open(arg)
		if err != nil {
			return err
		}
		defer f.Close()
		name, in = arg, f
	}
	r, _, err := compress.NewReader(in)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer r.Close()
	sum, err := tarsum.Archive(r, v, hashName, extra)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	_, err = fmt.Println(sum)
	return err
}
