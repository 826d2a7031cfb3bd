// Command path-to-layer writes the layer tar of a list of Nix store paths
// (or of a directory taken as the image root), byte-identical to the
// layers nixpkgs' stream_layered_image.py writes, and a JSON descriptor of
// it: diffID, size and, on request, TarSum, all computed in the pass that
// writes the tar.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/go-dockertools/dockertools/lib/atomicfile"
	"github.com/go-dockertools/dockertools/lib/cmdrun"
	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/urfave/cli/v2"
)

const tool = "path-to-layer"

func main() {
	cmdrun.Setup()
	cmdrun.LimitStreamMemory()
	app := newApp()
	cmdrun.Exit(tool, app.Run(cmdrun.FlagsFirst(os.Args, app.Flags)))
}

func newApp() *cli.App {
	return &cli.App{
		Name:      tool,
		Usage:     "write the layer tar of Nix store paths, as nixpkgs does, and its descriptor",
		UsageText: "path-to-layer [options] PATH...\n   path-to-layer [options] --from FILE|-\n   path-to-layer [options] --root DIR",
		Description: `The layer holds /nix/, /nix/store/ and then each store path with everything
below it, in the order given, with fixed times and owners: the same bytes as
the layer nixpkgs' stream_layered_image.py writes for the same list.

With -o FILE the tar is written to FILE (atomically) and the descriptor JSON
goes to stdout; without -o the tar goes to stdout and --descriptor FILE names
where the descriptor goes. Paths may also come from --from FILE (or "-" for
stdin): white-space separated, or a JSON array. --root DIR packs a directory's
contents as the image root (a customisation layer), with the same times and
owners; given with store paths, one layer holds both (nixpkgs' buildImage).

--perms FILE sets the mode and owner of the entries that rules match, as
nix2container's perms do, without root or fakeroot: FILE is a JSON list of
{"path", "regex", "mode", "uid", "gid", "uname", "gname"}; a rule applies to
the entries at or below "path" (absolute, in the image: "/nix/store/...",
or "/etc/..." for --root) whose path "regex" matches (Go syntax, unanchored;
every one when absent); "mode" is octal; fields absent are left as they
were; later rules win. The descriptor records the rules.

--digest-only writes no tar at all: the paths are read once and only the
descriptor is written, with the options that shaped the bytes, so that
assemble-image writes the layer again from the store (checking it against
the descriptor) straight into the image: the store holds the only copy.

Examples:
  path-to-layer -o layer.tar /nix/store/...-hello-2.12
  path-to-layer --digest-only /nix/store/...-hello-2.12 > layer.json
  closure-popularity --max-layers 50 graph.json | awk '{print NR-1, $0}' |
    xargs -P4 -L1 sh -c 'path-to-layer --index "$0" -o "layers/$0.tar" "$@" > "layers/$0.json"'
  path-to-layer --root ./rootfs --tarsum -o custom.tar
  echo '[{"path": "/etc", "regex": "/motd$", "uid": 1000, "gid": 1000, "mode": "0600"}]' > perms.json &&
    path-to-layer --root ./rootfs --perms perms.json -o custom.tar`,
		Version:         cmdrun.Version,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the tar to `FILE` (\"-\": stdout) and the descriptor to stdout"},
			&cli.StringFlag{Name: "descriptor", Usage: "write the descriptor JSON to `FILE` (\"-\": stdout)"},
			&cli.StringFlag{Name: "from", Usage: "read store paths from `FILE` (\"-\": stdin)"},
			&cli.StringFlag{Name: "root", Usage: "pack the contents of `DIR` as the image root (before the store paths, if any)"},
			&cli.StringFlag{Name: "mtime", Usage: "modification `TIME` of every entry: seconds since the epoch or RFC 3339 (default 1; with --root, $SOURCE_DATE_EPOCH when set)"},
			&cli.Int64Flag{Name: "uid", Value: 0, Usage: "owner `UID` of every entry"},
			&cli.Int64Flag{Name: "gid", Value: 0, Usage: "group `GID` of every entry"},
			&cli.StringFlag{Name: "uname", Value: "root", Usage: "owner `NAME` of every entry"},
			&cli.StringFlag{Name: "gname", Value: "root", Usage: "group `NAME` of every entry"},
			&cli.StringFlag{Name: "store-dir", Value: layer.DefaultStoreDir, Usage: "the Nix store `DIR`"},
			&cli.StringFlag{Name: "perms", Usage: "set modes and owners of the entries the rules in `FILE` match (nix2container's perms: a JSON list)"},
			&cli.StringFlag{Name: "index", Usage: "record layer number `N` in the descriptor (assemble-image orders layers by it)"},
			&cli.BoolFlag{Name: "tarsum", Usage: "also compute Docker's TarSum v1 of the layer"},
			&cli.BoolFlag{Name: "digest-only", Usage: "write no tar, only the descriptor (assemble-image writes the layer from the store)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no informational messages"},
		},
		Action:         run,
		OnUsageError:   func(_ *cli.Context, err error, _ bool) error { return cmdrun.Usage(err) },
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

func run(c *cli.Context) error {
	if c.Bool("digest-only") && c.IsSet("output") {
		return cmdrun.Usagef("--digest-only writes no tar: -o does not go with it (--descriptor FILE names where the descriptor goes)")
	}
	opts := layer.Defaults()
	opts.Uid, opts.Gid = c.Int64("uid"), c.Int64("gid")
	opts.Uname, opts.Gname = c.String("uname"), c.String("gname")
	opts.StoreDir = c.String("store-dir")
	opts.TarSum = c.Bool("tarsum")
	root := c.String("root")
	mtime, mtimeFrom := c.String("mtime"), "--mtime"
	if mtime == "" && root != "" {
		mtime, mtimeFrom = os.Getenv("SOURCE_DATE_EPOCH"), "SOURCE_DATE_EPOCH"
	}
	if mtime != "" {
		t, err := layer.ParseTime(mtime)
		if err != nil {
			return cmdrun.Usagef("%s: %v", mtimeFrom, err)
		}
		opts.Mtime = t
	}
	if opts.Uid < 0 || opts.Gid < 0 {
		return cmdrun.Usagef("--uid and --gid must not be negative")
	}
	if name := c.String("perms"); name != "" {
		perms, err := readPerms(name)
		if err != nil {
			return err
		}
		opts.Perms = perms
	}
	var d layer.Descriptor
	if s := c.String("index"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return cmdrun.Usagef("--index: %q is not a layer number", s)
		}
		d.Index = &n
	}

	paths, err := inputPaths(c, root)
	if err != nil {
		return err
	}
	for _, p := range paths {
		if _, err := layer.CheckStorePath(p, opts.StoreDir); err != nil {
			return err
		}
		// A missing store path fails the run before a byte is written,
		// even to stdout.
		if _, err := os.Lstat(p); err != nil {
			return fmt.Errorf("%s: %w", p, pathErr(err))
		}
	}

	outName := c.String("output")
	descName := c.String("descriptor")
	if c.Bool("digest-only") {
		return digestOnly(d, root, paths, opts, descName)
	}
	if outName == "" || outName == atomicfile.Stdout {
		if descName == "" {
			descName = "" // no descriptor unless asked for
		} else if descName == atomicfile.Stdout {
			return cmdrun.Usagef("the tar goes to stdout: --descriptor needs a file")
		}
	} else {
		d.File = outName
		if descName == "" {
			descName = atomicfile.Stdout
		}
	}

	out, err := atomicfile.Create(outName)
	if err != nil {
		return err
	}
	defer out.Abort()
	// The descriptor's file is created before the layer is written: a
	// descriptor that cannot be written fails the run before a layer
	// file comes into being without it.
	var desc *atomicfile.File
	if descName != "" {
		if desc, err = atomicfile.Create(descName); err != nil {
			return err
		}
		defer desc.Abort()
	}
	res, err := layer.Write(out, root, paths, opts)
	d.Root, d.Paths = root, paths
	d.SetOptions(opts)
	if err != nil {
		var we *layer.WriteError
		if errors.As(err, &we) {
			return fmt.Errorf("write %s: %w", atomicfile.DisplayName(outName), we.Err)
		}
		return err
	}
	d.DiffID, d.Size, d.TarSum = res.DiffID, res.Size, res.TarSum
	var js []byte
	if desc != nil {
		if js, err = json.Marshal(d); err != nil {
			return err
		}
		js = append(js, '\n')
		if !desc.IsStdout() {
			// Into the descriptor's temporary file before the layer file
			// appears: a failure here leaves neither.
			if _, err := desc.Write(js); err != nil {
				return fmt.Errorf("write %s: %w", atomicfile.DisplayName(descName), pathErr(err))
			}
		}
	}
	if err := out.Commit(); err != nil {
		return err
	}
	if desc == nil {
		return nil
	}
	var layerFile os.FileInfo
	if !out.IsStdout() {
		layerFile, _ = os.Stat(outName)
	}
	// The descriptor appears after the layer file (on stdout, a reader
	// may open the file as soon as it reads the line). When it cannot be
	// written, the layer file goes too, unless another run has replaced
	// it meanwhile: a failed run leaves no output.
	if desc.IsStdout() {
		if _, err = desc.Write(js); err != nil {
			err = fmt.Errorf("write %s: %w", atomicfile.DisplayName(descName), pathErr(err))
		}
	}
	if err == nil {
		err = desc.Commit()
	}
	if err != nil && layerFile != nil {
		if fi, e := os.Stat(outName); e == nil && fi.Mode().IsRegular() && os.SameFile(fi, layerFile) {
			os.Remove(outName)
		}
	}
	return err
}

// digestOnly reads the paths once and writes only the descriptor.
func digestOnly(d layer.Descriptor, root string, paths []string, opts layer.Options, descName string) error {
	if descName == "" {
		descName = atomicfile.Stdout
	}
	desc, err := atomicfile.Create(descName)
	if err != nil {
		return err
	}
	defer desc.Abort()
	res, err := layer.Write(io.Discard, root, paths, opts)
	if err != nil {
		return err
	}
	d.Root, d.Paths = root, paths
	d.SetOptions(opts)
	d.DiffID, d.Size, d.TarSum = res.DiffID, res.Size, res.TarSum
	js, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if _, err := desc.Write(append(js, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", atomicfile.DisplayName(descName), pathErr(err))
	}
	return desc.Commit()
}

// pathErr drops the *PathError layer, whose text would name the
// temporary file or /dev/stdout rather than the output.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readPerms reads the --perms file.
func readPerms(name string) ([]layer.Perm, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("--perms: %w", err)
	}
	defer f.Close()
	return layer.ReadPerms(f, "--perms "+name)
}

// inputPaths gathers the store paths from the arguments and --from.
func inputPaths(c *cli.Context, root string) ([]string, error) {
	args := c.Args().Slice()
	from := c.String("from")
	if len(args) == 1 && args[0] == "-" && from == "" {
		from, args = "-", nil
	}
	paths := args
	if from != "" {
		var r io.Reader = os.Stdin
		name := "stdin"
		if from != "-" {
			f, err := os.Open(from)
			if err != nil {
				return nil, fmt.Errorf("--from: %w", err)
			}
			defer f.Close()
			r, name = f, from
		}
		more, err := layer.ReadPathList(r, name)
		if err != nil {
			return nil, err
		}
		paths = append(paths, more...)
	}
	if len(paths) == 0 && root == "" {
		return nil, cmdrun.Usagef("no store paths given (try --help)")
	}
	return paths, nil
}
