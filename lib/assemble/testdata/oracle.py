"""An independent reading of what nixpkgs' stream_layered_image.py writes
for a conf.json, used as the oracle of assemble.Nixpkgs' differential tests.

usage: python3 oracle.py conf.json > image.tar

Written from the script's documented behaviour, with CPython's tarfile in
its default (PAX) format:
- the outer tar is a stream ("w|"), members in this order: the base image's
  layer members as tarfile reads them, each store layer as
  "<sha256>/layer.tar" (mtime: the conf's), the customisation layer's
  layer.tar under "<its checksum>/layer.tar" with the header gettarinfo
  gives the file (mtime: the conf's), the image JSON "<sha256>.json", then
  manifest.json;
- a store layer holds /nix and /nix/store (directories, 0755), then per
  store path the path and, unless it is a symlink, everything below it,
  sorted as pathlib sorts; hard links become regular files; every entry
  gets the conf's mtime, uid, gid, uname, gname;
- the image JSON is json.dumps(indent=4) of created (isoformat), the
  conf's architecture, os "linux", the conf's config (with a base image:
  Env of base then config, one entry per variable, first position, last
  value; only when that list is not empty), rootfs and one history entry
  per layer whose comment is "store paths: " + str(list of paths);
- "created" and "mtime" are datetime.fromisoformat, or one shared
  datetime.now(timezone.utc) for "now"; mtime is int(timestamp()).
"""
import hashlib
import io
import json
import os
import pathlib
import sys
import tarfile
from datetime import datetime, timezone

NOW = datetime.now(timezone.utc)


def when(s):
    return NOW if s == "now" else datetime.fromisoformat(s)


def store_layer(paths, mtime, uid, gid, uname, gname):
    def owned(ti):
        ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = mtime, uid, gid, uname, gname
        return ti

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w|") as out:
        for d in ("/nix", "/nix/store"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            out.addfile(owned(ti))
        for p in map(pathlib.Path, paths):
            entries = [p] if p.is_symlink() else [p, *p.rglob("*")]
            for e in sorted(entries):
                ti = out.gettarinfo(e)
                ti.name = "/" + ti.name
                if ti.islnk():
                    ti.type, ti.linkname, ti.size = tarfile.REGTYPE, "", e.stat().st_size
                owned(ti)
                if ti.isfile():
                    with open(e, "rb") as f:
                        out.addfile(ti, f)
                else:
                    out.addfile(ti)
    return buf.getvalue()


def main():
    with open(sys.argv[1]) as f:
        conf = json.load(f)
    created = when(conf["created"])
    mtime = int(when(conf["mtime"]).timestamp())
    uid, gid = int(conf["uid"]), int(conf["gid"])
    layers = []  # (checksum, member name, paths)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w|") as out:
        base = None
        if conf["from_image"] is not None:
            base = tarfile.open(conf["from_image"])
            manifest = json.load(base.extractfile(base.getmember("manifest.json")))
            base_image = json.load(base.extractfile(base.getmember(manifest[0]["Config"])))
            for name, diff_id in zip(manifest[0]["Layers"], base_image["rootfs"]["diff_ids"]):
                m = base.getmember(name)
                out.addfile(m, base.extractfile(m))
                layers.append((diff_id.removeprefix("sha256:"), m.path, [m.path]))
        for paths in conf["store_layers"]:
            data = store_layer(paths, mtime, uid, gid, conf["uname"], conf["gname"])
            sum_ = hashlib.sha256(data).hexdigest()
            ti = tarfile.TarInfo(sum_ + "/layer.tar")
            ti.size, ti.mtime = len(data), mtime
            out.addfile(ti, io.BytesIO(data))
            layers.append((sum_, ti.name, paths))
        custom = conf["customisation_layer"]
        with open(os.path.join(custom, "checksum")) as f:
            sum_ = f.read().strip()
        ti = out.gettarinfo(os.path.join(custom, "layer.tar"))
        ti.name, ti.mtime = sum_ + "/layer.tar", mtime
        with open(os.path.join(custom, "layer.tar"), "rb") as f:
            out.addfile(ti, f)
        layers.append((sum_, ti.name, [custom]))

        config = conf["config"]
        if base is not None:
            env = base_image["config"].get("Env", []) + config.get("Env", [])
            if env:
                merged = {}
                for e in env:
                    merged[e.split("=", 1)[0]] = e
                config["Env"] = list(merged.values())
        stamp = created.isoformat()
        image = json.dumps({
            "created": stamp,
            "architecture": conf["architecture"],
            "os": "linux",
            "config": config,
            "rootfs": {"diff_ids": ["sha256:" + c for c, _, _ in layers], "type": "layers"},
            "history": [{"created": stamp, "comment": "store paths: " + str(p)} for _, _, p in layers],
        }, indent=4).encode()
        name = hashlib.sha256(image).hexdigest() + ".json"
        manifest = json.dumps([{
            "Config": name,
            "RepoTags": [sys.argv[2] if len(sys.argv) > 2 else conf["repo_tag"]],
            "Layers": [n for _, n, _ in layers],
        }], indent=4).encode()
        for member, data in ((name, image), ("manifest.json", manifest)):
            ti = tarfile.TarInfo(member)
            ti.size, ti.mtime = len(data), mtime
            out.addfile(ti, io.BytesIO(data))
    sys.stdout.buffer.write(raw.getvalue())


main()
