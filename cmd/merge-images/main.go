// Command merge-images combines image archives into one that docker load
// loads with every image and every tag: nixpkgs' mergeImages.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-dockertools/dockertools/lib/cmdrun"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/imagefile"
	"github.com/go-dockertools/dockertools/lib/merge"
	"github.com/go-dockertools/dockertools/lib/reference"
	"github.com/urfave/cli/v2"
)

const tool = "merge-images"

func main() {
	cmdrun.Setup()
	cmdrun.LimitStreamMemory()
	app := newApp()
	cmdrun.Exit(tool, app.Run(cmdrun.FlagsFirst(os.Args, app.Flags)))
}

func newApp() *cli.App {
	return &cli.App{
		Name:  tool,
		Usage: "combine image archives into one that docker load loads with every image and tag",
		UsageText: "merge-images [-o FILE] [--compress none|gzip|zstd] ARCHIVE...\n" +
			"   merge-images --list [--store-paths] [--tag NAME:TAG] ARCHIVE...",
		Description: `The inputs are image archives from this toolkit, nixpkgs or docker save (old
and new layouts, several images each), plain, gzip or zstd compressed
(recognised by content); "-" reads one from stdin. The output holds every
image in input order, every layer and config once, each layer checked
against its diff_id while it is copied, and is the same bytes for the same
inputs.

The same image in several inputs is written once, with all its tags. One
tag naming two different images is an error, found before anything is
written. Tags are compared as docker load resolves them: app, app:latest
and docker.io/library/app:latest are one tag (localhost:5000/app another).

--list writes nothing but describes each image of the archives instead, one
JSON line per image: file, tags, imageID, layers (their number) and diffIDs;
with --store-paths also the store paths its layers hold (what a script needs
to leave out of a layer built on it); with --tag only the images with that
tag, however spelt.

Examples:
  merge-images -o release.tar web.tar worker.tar.gz db.tar.zst
  merge-images --list --store-paths base.tar
  merge-images --compress zstd web.tar worker.tar > release.tar.zst`,
		Version:         cmdrun.Version,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the archive to `FILE` (\"-\": stdout)"},
			&cli.StringFlag{Name: "format", Value: "docker-archive", Usage: "write a `FORMAT`: docker-archive, oci (a layout directory at -o DIR) or oci-archive"},
			&cli.StringFlag{Name: "compress", Value: "none", Usage: "compress the docker-archive whole: `KIND` none, gzip or zstd"},
			&cli.StringFlag{Name: "layer-compression", Value: "gzip", Usage: "with --format oci or oci-archive: compress each layer blob: `KIND` none, gzip or zstd"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no informational messages"},
			&cli.BoolFlag{Name: "list", Usage: "describe the archives' images (one JSON line each) instead of merging"},
			&cli.BoolFlag{Name: "store-paths", Usage: "with --list: also the store paths each image's layers hold"},
			&cli.StringFlag{Name: "store-dir", Value: "/nix/store", Usage: "with --store-paths: the Nix store `DIR`"},
			&cli.StringFlag{Name: "tag", Usage: "with --list: only the image tagged `NAME[:TAG]` (default tag: latest)"},
		},
		Action:         run,
		OnUsageError:   func(_ *cli.Context, err error, _ bool) error { return cmdrun.Usage(err) },
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

func run(c *cli.Context) error {
	opts, err := imagefile.ParseOptions(cmdrun.Given(c, "format"), cmdrun.Given(c, "compress"), cmdrun.Given(c, "layer-compression"))
	if err != nil {
		return cmdrun.Usage(err)
	}
	opts.Mtime = 1
	inputs := c.Args().Slice()
	if len(inputs) == 0 {
		return cmdrun.Usagef("no archive to merge (try --help)")
	}
	if c.Bool("list") {
		return list(c, inputs)
	}
	for _, f := range []string{"store-paths", "tag"} {
		if c.IsSet(f) {
			return cmdrun.Usagef("--%s goes with --list", f)
		}
	}
	out, err := imagefile.Create(c.String("output"), opts)
	if err != nil {
		return err
	}
	defer out.Abort()
	res, err := merge.Merge(out, inputs)
	if err == nil {
		err = out.Commit()
	}
	var we *image.WriteError
	if errors.As(err, &we) {
		return fmt.Errorf("write %s: %w", out.Name, we.Err)
	}
	if err != nil {
		return err
	}
	log := &cmdrun.Log{Quiet: c.Bool("quiet")}
	for _, n := range res.Notes {
		log.Printf("%s", n)
	}
	log.Printf("merged %d images (%d tags, %d layers) from %d archives into %s", res.Images, res.Tags, res.Layers, len(inputs), out.Name)
	return nil
}

// list prints one JSON line per image of the files.
func list(c *cli.Context, inputs []string) error {
	for _, f := range []string{"output", "compress", "format", "layer-compression"} {
		if c.IsSet(f) {
			return cmdrun.Usagef("--list writes no archive: --%s does not go with it", f)
		}
	}
	tag := c.String("tag")
	if tag != "" {
		if _, err := reference.Parse(tag); err != nil {
			return cmdrun.Usagef("--tag: %v", err)
		}
	}
	found := false
	enc := json.NewEncoder(os.Stdout)
	for _, name := range inputs {
		f, err := imagefile.Open(name)
		if err != nil {
			return err
		}
		images := f.Images
		if tag != "" {
			images = nil
			for _, im := range f.Images {
				if imagefile.Matches(im, tag) {
					images = append(images, im)
				}
			}
		}
		for _, im := range images {
			s := f.Summarize(im)
			if c.Bool("store-paths") {
				if s.StorePaths, err = imagefile.StorePaths(im, c.String("store-dir")); err != nil {
					f.Close()
					return fmt.Errorf("%s: %w", f.Name, err)
				}
				if s.StorePaths == nil {
					s.StorePaths = []string{}
				}
			}
			found = true
			if err := enc.Encode(s); err != nil {
				f.Close()
				return fmt.Errorf("write stdout: %w", err)
			}
		}
		f.Close()
	}
	if tag != "" && !found {
		return fmt.Errorf("no image tagged %q in %s", tag, strings.Join(inputs, ", "))
	}
	return nil
}
