// Command fake-nss writes the files of nixpkgs' fakeNss (/etc/passwd,
// /etc/group, /etc/nsswitch.conf, an empty /var/empty, and on request
// locked /etc/shadow and /etc/gshadow) as a layer tar, or into a
// directory.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/go-dockertools/dockertools/lib/atomicfile"
	"github.com/go-dockertools/dockertools/lib/cmdrun"
	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/go-dockertools/dockertools/lib/nss"
	"github.com/urfave/cli/v2"
)

const tool = "fake-nss"

func main() {
	cmdrun.Setup()
	app := newApp()
	cmdrun.Exit(tool, app.Run(cmdrun.FlagsFirst(os.Args, app.Flags)))
}

func newApp() *cli.App {
	return &cli.App{
		Name:      tool,
		Usage:     "write nixpkgs' fakeNss files: /etc/passwd, /etc/group, /etc/nsswitch.conf, /var/empty",
		UsageText: "fake-nss [--passwd-line LINE]... [--group-line LINE]... [--user NAME:UID:GID[:HOME[:SHELL]]]... [--shadow] [-o FILE | --dir DIR]",
		Description: `/etc/passwd holds root, the extra lines and users, then nobody; /etc/group
the same for groups; /etc/nsswitch.conf "hosts: files dns". Without extra
lines and users the files are byte-identical to nixpkgs' fakeNss.

--user NAME:UID:GID adds the passwd line NAME:x:UID:GID:NAME:HOME:SHELL (home
/var/empty, shell /bin/sh unless given) and the group NAME:x:GID: unless a
group with that GID exists. --shadow adds /etc/shadow and /etc/gshadow (mode
0600) with every account locked, as nixpkgs' shadowSetup writes them.

The default output is a layer tar on stdout (or -o FILE, atomically), packed
like path-to-layer --root: owner root, mtime $SOURCE_DATE_EPOCH or 1. --dir
writes the files into DIR instead, for a customisation layer; it refuses to
replace a file with other contents or to write through a symlink.

Examples:
  fake-nss -o nss.tar
  fake-nss --user app:1000:1000 --shadow --dir rootfs && path-to-layer --root rootfs -o custom.tar`,
		Version:                   cmdrun.Version,
		HideHelpCommand:           true,
		DisableSliceFlagSeparator: true, // GECOS fields hold commas
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "passwd-line", Usage: "add `LINE` (name:x:uid:gid:gecos:home:shell) to /etc/passwd"},
			&cli.StringSliceFlag{Name: "group-line", Usage: "add `LINE` (name:x:gid:members) to /etc/group"},
			&cli.StringSliceFlag{Name: "user", Usage: "add a user and its group: `NAME:UID:GID[:HOME[:SHELL]]`"},
			&cli.BoolFlag{Name: "shadow", Usage: "also write /etc/shadow and /etc/gshadow, every account locked"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the layer tar to `FILE` (\"-\": stdout)"},
			&cli.StringFlag{Name: "dir", Usage: "write the files into `DIR` instead of a layer tar"},
		},
		Action:         run,
		OnUsageError:   func(_ *cli.Context, err error, _ bool) error { return cmdrun.Usage(err) },
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

func run(c *cli.Context) error {
	if c.NArg() > 0 {
		return cmdrun.Usagef("unexpected argument %q (try --help)", c.Args().First())
	}
	spec := nss.Spec{
		PasswdLines: c.StringSlice("passwd-line"),
		GroupLines:  c.StringSlice("group-line"),
		Shadow:      c.Bool("shadow"),
	}
	for _, s := range c.StringSlice("user") {
		u, err := nss.ParseUser(s)
		if err != nil {
			return cmdrun.Usagef("--%w", err)
		}
		spec.Users = append(spec.Users, u)
	}
	entries, err := nss.Build(spec)
	if err != nil {
		return cmdrun.Usage(err)
	}
	outName, dir := c.String("output"), c.String("dir")
	if dir != "" {
		if outName != "" {
			return cmdrun.Usagef("--dir and -o both name an output: give one")
		}
		return nss.WriteDir(dir, entries)
	}

	mtime := int64(1)
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		t, err := layer.ParseTime(s)
		if err != nil {
			return cmdrun.Usagef("SOURCE_DATE_EPOCH: %v", err)
		}
		mtime = t
	}
	out, err := atomicfile.Create(outName)
	if err != nil {
		return err
	}
	defer out.Abort()
	if _, err := nss.WriteLayer(out, entries, mtime); err != nil {
		var we *layer.WriteError
		if errors.As(err, &we) {
			return fmt.Errorf("write %s: %w", displayName(outName), we.Err)
		}
		return err
	}
	return out.Commit()
}

func displayName(name string) string {
	if name == "" || name == atomicfile.Stdout {
		return "stdout"
	}
	return name
}
