// Command assemble-image puts layers and a config together into an image
// archive that docker load accepts: from path-to-layer's descriptors, or,
// as a drop-in for nixpkgs' stream_layered_image.py, from the conf.json
// nixpkgs' streamLayeredImage writes.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/go-dockertools/dockertools/lib/assemble"
	"github.com/go-dockertools/dockertools/lib/cmdrun"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/imageconfig"
	"github.com/go-dockertools/dockertools/lib/imagefile"
	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/urfave/cli/v2"
)

const tool = "assemble-image"

func main() {
	cmdrun.Setup()
	cmdrun.LimitStreamMemory()
	app := newApp()
	cmdrun.Exit(tool, app.Run(cmdrun.FlagsFirst(os.Args, app.Flags)))
}

func newApp() *cli.App {
	return &cli.App{
		Name:  tool,
		Usage: "put layers and a config together into an image archive for docker load",
		UsageText: "assemble-image --tag NAME[:TAG] [--config FILE] [options] [DESCRIPTOR...]\n" +
			"   assemble-image --nixpkgs-conf conf.json [-t NAME:TAG] [options]",
		Description: `Native: the layers are path-to-layer's descriptors (files, or JSON lines on
stdin), ordered by their "index" when they have one, else as given. Each layer
file is checked against its descriptor while it is copied. Without a tag part
in --tag, the tag is derived from the image's content.

Drop-in: --nixpkgs-conf takes the conf.json nixpkgs' streamLayeredImage hands
to stream_layered_image.py and writes the same bytes that script writes,
building the store layers straight from the store.

Formats (--format, named as skopeo's transports): docker-archive (default;
what docker load reads, --compress compresses it whole), oci (an OCI layout
directory at -o DIR, new or one to add the image to) and oci-archive (a tar
of one); the OCI formats compress each layer blob (--layer-compression,
default gzip) and name the image in index.json by each --tag. The base image
(--from-image) may be any of them.

The image goes to stdout, or to -o FILE (atomically: complete or absent);
with -o, stdout gets one JSON line: {"name", "tag", "imageID", "diffIDs"}.

Examples:
  assemble-image --tag hello --config config.json layers/*.json -o hello.tar
  cat layers/*.json | assemble-image --tag hello:1.0 --compress gzip > hello.tar.gz
  assemble-image --nixpkgs-conf conf.json | docker load
  assemble-image --tag hello:1.0 --tag hello:latest --format oci -o hello-oci layers/*.json`,
		Version:         cmdrun.Version,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the archive to `FILE` (\"-\": stdout)"},
			&cli.StringSliceFlag{Name: "tag", Usage: "image `NAME[:TAG]` (native mode; again for more names)"},
			&cli.StringFlag{Name: "config", Usage: "image config object (Cmd, Env, ...) from `FILE`"},
			&cli.StringFlag{Name: "created", Value: assemble.DefaultCreated, Usage: "creation `TIME`: RFC 3339 or \"now\""},
			&cli.StringFlag{Name: "arch", Usage: "image `ARCH` (default: the base image's, else this machine's)"},
			&cli.StringFlag{Name: "variant", Usage: "architecture `VARIANT` (v7 for 32-bit ARM)"},
			&cli.StringFlag{Name: "from-image", Usage: "base image `FILE` or layout: docker-archive (docker save, nixpkgs, this toolkit; plain, gzip or zstd), oci-archive or OCI layout"},
			&cli.StringFlag{Name: "from-image-tag", Usage: "pick the base image tagged `NAME[:TAG]` (default tag: latest) in a multi-image archive"},
			&cli.IntFlag{Name: "max-layers", Value: assemble.DefaultMaxLayers, Usage: "refuse images with more than `N` layers"},
			&cli.StringFlag{Name: "format", Value: "docker-archive", Usage: "write a `FORMAT`: docker-archive, oci (a layout directory at -o DIR) or oci-archive"},
			&cli.StringFlag{Name: "compress", Value: "none", Usage: "compress the docker-archive whole: `KIND` none, gzip or zstd"},
			&cli.StringFlag{Name: "layer-compression", Value: "gzip", Usage: "with --format oci or oci-archive: compress each layer blob: `KIND` none, gzip or zstd"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: 2, Usage: "with an OCI format: compress `N` layers at once"},
			&cli.StringFlag{Name: "nixpkgs-conf", Usage: "build from nixpkgs' stream_layered_image.py `conf.json`"},
			&cli.StringFlag{Name: "repo-tag", Aliases: []string{"t"}, Usage: "with --nixpkgs-conf: override the conf's repo_tag with `NAME:TAG`"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no informational messages"},
		},
		Action:         run,
		OnUsageError:   func(_ *cli.Context, err error, _ bool) error { return cmdrun.Usage(err) },
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

func run(c *cli.Context) error {
	log := &cmdrun.Log{Quiet: c.Bool("quiet")}
	opts, err := imagefile.ParseOptions(cmdrun.Given(c, "format"), cmdrun.Given(c, "compress"), cmdrun.Given(c, "layer-compression"))
	if err != nil {
		return cmdrun.Usage(err)
	}
	if c.Int("max-layers") < 1 {
		return cmdrun.Usagef("--max-layers must be at least 1")
	}
	var b *assemble.Built
	if conf := c.String("nixpkgs-conf"); conf != "" {
		for _, f := range []string{"tag", "config", "from-image", "arch", "variant"} {
			if c.IsSet(f) {
				return cmdrun.Usagef("--%s does not go with --nixpkgs-conf: conf.json says it", f)
			}
		}
		if c.NArg() > 0 {
			return cmdrun.Usagef("--nixpkgs-conf takes no layer descriptors")
		}
		b, err = assemble.Nixpkgs(conf, assemble.NixpkgsOptions{RepoTag: c.String("repo-tag"), MaxLayers: c.Int("max-layers"), Log: log.Printf})
	} else {
		var spec assemble.NativeSpec
		if spec, err = nativeSpec(c, log); err == nil {
			b, err = assemble.Native(spec)
		}
	}
	if err != nil {
		return err
	}
	defer b.Close()
	o := b.Options(opts.Format)
	o.Compress, o.LayerCompression, o.Jobs = opts.Compress, opts.LayerCompression, c.Int("jobs")
	out, err := imagefile.Create(c.String("output"), o)
	if err != nil {
		return err
	}
	defer out.Abort()
	err = out.Add(b.Image)
	if err == nil {
		err = out.Commit()
	}
	var we *image.WriteError
	if errors.As(err, &we) {
		return fmt.Errorf("write %s: %w", out.Name, unwrapPath(we.Err))
	}
	if err != nil {
		return err
	}
	res := b.Result
	log.Printf("Wrote %s:%s (image ID %s) to %s", res.Name, res.Tag, res.ImageID, out.Name)
	if out.IsStdout() {
		return nil
	}
	js, _ := json.Marshal(res)
	_, err = fmt.Printf("%s\n", js)
	return err
}

func nativeSpec(c *cli.Context, log *cmdrun.Log) (assemble.NativeSpec, error) {
	spec := assemble.NativeSpec{
		Tags: c.StringSlice("tag"), Arch: c.String("arch"), Variant: c.String("variant"),
		FromImage: c.String("from-image"), FromImageTag: c.String("from-image-tag"),
		MaxLayers: c.Int("max-layers"), Log: log.Printf,
	}
	if c.IsSet("repo-tag") {
		return spec, cmdrun.Usagef("--repo-tag goes with --nixpkgs-conf; use --tag")
	}
	if len(spec.Tags) == 0 {
		return spec, cmdrun.Usagef("--tag NAME[:TAG] is required (or --nixpkgs-conf)")
	}
	created, err := parseCreated(c.String("created"))
	if err != nil {
		return spec, cmdrun.Usage(err)
	}
	spec.Created = created
	if name := c.String("config"); name != "" {
		data, err := os.ReadFile(name)
		if err != nil {
			return spec, fmt.Errorf("--config: %w", err)
		}
		if spec.Config, err = imageconfig.Parse(data); err != nil {
			return spec, fmt.Errorf("%s: %w", name, err)
		}
	}
	var ds []layer.Descriptor
	if c.NArg() == 0 || (c.NArg() == 1 && c.Args().First() == "-") {
		if c.NArg() == 0 && stdinIsTerminal() {
			return spec, cmdrun.Usagef("no layer descriptors: give descriptor files or JSON lines on stdin")
		}
		more, err := layer.ReadDescriptors(os.Stdin, "stdin")
		if err != nil {
			return spec, err
		}
		ds = more
	} else {
		for _, name := range c.Args().Slice() {
			f, err := os.Open(name)
			if err != nil {
				return spec, err
			}
			more, err := layer.ReadDescriptors(f, name)
			f.Close()
			if err != nil {
				return spec, err
			}
			ds = append(ds, more...)
		}
	}
	ordered, err := layer.OrderDescriptors(ds)
	if err != nil {
		return spec, err
	}
	spec.Layers = ordered
	return spec, nil
}

// parseCreated reads --created: RFC 3339 or "now"; the result is RFC 3339
// in UTC.
func parseCreated(s string) (string, error) {
	if s == "now" {
		return time.Now().UTC().Format(time.RFC3339Nano), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", fmt.Errorf("--created: %q is not an RFC 3339 time (or \"now\")", s)
	}
	return t.UTC().Format(time.RFC3339Nano), nil
}

func stdinIsTerminal() bool {
	fi, err := os.Stdin.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// unwrapPath drops the *os.PathError whose text would name the temporary
// file rather than the output.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
