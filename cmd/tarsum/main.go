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
	cmdrun.LimitStreamMemory()
	app := newApp()
	cmdrun.Exit(tool, app.Run(cmdrun.FlagsFirst(versionArgs(os.Args), app.Flags)))
}

// versionArgs accepts the spelling "--version v1": followed by an
// argument that is not a flag, --version (or -v) selects the TarSum
// version, and an unknown one is a usage error rather than a file name;
// alone or before another flag it prints the tool's version like every
// other command. "--version=V" is always a TarSum version. Nothing after
// "--" is rewritten.
func versionArgs(args []string) []string {
	if len(args) == 0 {
		return args
	}
	out := append(make([]string, 0, len(args)), args[0])
	for i := 1; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--":
			return append(out, args[i:]...)
		case a == "--version" || a == "-version" || a == "-v":
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				out = append(out, "--tarsum-version", args[i+1])
				i++
			} else {
				out = append(out, a)
			}
		case strings.HasPrefix(a, "--version="), strings.HasPrefix(a, "-version="), strings.HasPrefix(a, "-v="):
			_, v, _ := strings.Cut(a, "=")
			out = append(out, "--tarsum-version="+v)
		default:
			out = append(out, a)
		}
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
archives are recognised by their first bytes, and read to their end.
"--version VERSION" (or -v VERSION) is the same as --tarsum-version;
--version alone, or followed by another flag, prints the tool's version.

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
	r, kind, err := compress.NewReader(in)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer r.Close()
	var tarStream io.Reader = r
	if kind != compress.None {
		tarStream = namedErrors{r, string(kind)}
	}
	sum, err := tarsum.Archive(tarStream, v, hashName, extra)
	if err == nil && kind != compress.None {
		// The archive ends at its zero blocks; read the compressed stream
		// to its end too, where its checksum is.
		_, err = io.Copy(io.Discard, tarStream)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	_, err = fmt.Println(sum)
	return err
}

// namedErrors prefixes the decompressor's errors with the compression's
// name, so a cut or corrupt gzip or zstd stream says so ("gzip: unexpected
// EOF") instead of passing for a truncated or invalid tar archive.
type namedErrors struct {
	r    io.Reader
	kind string
}

func (n namedErrors) Read(p []byte) (int, error) {
	c, err := n.r.Read(p)
	if err != nil && err != io.EOF && !strings.HasPrefix(err.Error(), n.kind+":") {
		err = fmt.Errorf("%s: %w", n.kind, err)
	}
	return c, err
}
