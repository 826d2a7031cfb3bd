// Command export-image writes the root filesystem of an image as one tar:
// its layers applied in order, whiteouts honoured, hard links kept
// (nixpkgs' exportImage, without a VM).
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-dockertools/dockertools/lib/atomicfile"
	"github.com/go-dockertools/dockertools/lib/cmdrun"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/imagefile"
	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/go-dockertools/dockertools/lib/rootfs"
	"github.com/urfave/cli/v2"
)

const tool = "export-image"

func main() {
	cmdrun.Setup()
	cmdrun.LimitStreamMemory()
	app := newApp()
	cmdrun.Exit(tool, app.Run(cmdrun.FlagsFirst(os.Args, app.Flags)))
}

func newApp() *cli.App {
	return &cli.App{
		Name:      tool,
		Usage:     "write the root filesystem of an image as one tar (nixpkgs' exportImage, without a VM)",
		UsageText: "export-image [--tag NAME:TAG] [-o FILE] [--mtime TIME] IMAGE",
		Description: `IMAGE is a docker-archive (this toolkit's, nixpkgs' or docker save's), an
oci-archive, both plain, gzip or zstd compressed ("-" reads one from stdin),
or an OCI layout directory; --tag picks one image of several. The output is a tar of the image's root
filesystem: the layers applied oldest first, files deleted by whiteouts
(.wh.NAME, .wh..wh..opq) left out, hard links kept as hard links (a file
whose first name an upper layer removed is written under its next name).

The same image gives the same bytes: entries in the order the layers create
them (each directory before its contents), names relative without "./",
permission bits, owners and mtimes as the layers have them (--mtime sets
one for all, as nixpkgs' SOURCE_DATE_EPOCH does), extended attributes kept,
nothing else. Memory depends on the number of files, not their size: each
layer is read twice, once to check it and find what survives, once to copy.

A layer entry that climbs out of the root (a ".." name, or a path through a
symlink), a whiteout that would, a hard link to nothing, or a layer that
does not match its diff_id is an error found before anything is written.

Examples:
  export-image -o rootfs.tar hello.tar
  export-image --tag web:1.0 release.tar.zst | tar -C rootfs -xf -
  export-image --mtime 315532800 -o rootfs.tar image.tar`,
		Version:         cmdrun.Version,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the tar to `FILE` (\"-\": stdout, the default)"},
			&cli.StringFlag{Name: "tag", Usage: "export the image tagged `NAME:TAG` (needed when the file holds several)"},
			&cli.StringFlag{Name: "mtime", Usage: "modification `TIME` of every entry: seconds since the epoch or RFC 3339 (default: each entry's own)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no informational messages"},
		},
		Action:         run,
		OnUsageError:   func(_ *cli.Context, err error, _ bool) error { return cmdrun.Usage(err) },
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

func run(c *cli.Context) error {
	switch c.NArg() {
	case 0:
		return cmdrun.Usagef("no image to export (try --help)")
	case 1:
	default:
		return cmdrun.Usagef("one image at a time (got %d arguments)", c.NArg())
	}
	var opts rootfs.Options
	if c.IsSet("mtime") {
		t, err := layer.ParseTime(c.String("mtime"))
		if err != nil {
			return cmdrun.Usagef("--mtime: %v", err)
		}
		opts.ForceMtime, opts.Mtime = true, t
	}
	f, err := imagefile.Open(c.Args().First())
	if err != nil {
		return err
	}
	defer f.Close()
	im, err := f.Find(c.String("tag"))
	if err != nil {
		return err
	}
	outName := c.String("output")
	out, err := atomicfile.Create(outName)
	if err != nil {
		return err
	}
	defer out.Abort()
	st, err := rootfs.Export(out, im.Layers, opts)
	var we *image.WriteError
	if errors.As(err, &we) {
		return fmt.Errorf("write %s: %w", atomicfile.DisplayName(outName), we.Err)
	}
	if err != nil {
		return err
	}
	if err := out.Commit(); err != nil {
		return err
	}
	log := &cmdrun.Log{Quiet: c.Bool("quiet")}
	name := f.Name
	if len(im.Names) > 0 {
		name = fmt.Sprintf("%s (%s)", f.Name, strings.Join(im.Names, ", "))
	}
	log.Printf("exported %s, %d layers, to %s: %d entries, %d bytes of file contents",
		name, len(im.Layers), atomicfile.DisplayName(outName), st.Entries, st.Bytes)
	return nil
}
