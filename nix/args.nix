# Checking the arguments a user gives, so that a mistake is one line in the
# user's terms ("streamLayeredImage: unknown argument maxLayer (did you mean
# maxLayers?)") rather than a trace through this library.
let
  inherit (builtins) attrNames concatStringsSep elem filter genList head length
    stringLength substring typeOf isAttrs isString isPath isInt isList isBool;

  chars = s: genList (i: substring i 1 s) (stringLength s);

  # The edit distance between two short strings (Levenshtein), row by row.
  distance = a: b:
    let
      ca = chars a;
      cb = chars b;
      nb = length cb;
      step = prev: x:
        builtins.foldl'
          (row: j:
            let
              cost = if x == builtins.elemAt cb j then 0 else 1;
              best = builtins.foldl' (m: v: if v < m then v else m) (builtins.elemAt prev j + cost)
                [ (builtins.elemAt prev (j + 1) + 1) (builtins.elemAt row j + 1) ];
            in row ++ [ best ])
          [ (head prev + 1) ]
          (genList (j: j) nb);
      last = builtins.foldl' step (genList (j: j) (nb + 1)) ca;
    in builtins.elemAt last nb;

  lower = builtins.replaceStrings
    (chars "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    (chars "abcdefghijklmnopqrstuvwxyz");

  # The known name closest to a mistyped one, if one is close.
  suggest = known: name:
    let
      scored = map (k: { inherit k; d = if lower k == lower name then 0 else distance (lower k) (lower name); }) known;
      best = builtins.foldl' (m: s: if m == null || s.d < m.d then s else m) null scored;
      limit = if stringLength name <= 4 then 1 else 2;
    in if best != null && best.d <= limit then " (did you mean ${best.k}?)" else "";

  # How a value is named in messages: its type, and the value when short.
  describe = v:
    let t = typeOf v; in
    if isAttrs v && (v.type or null) == "derivation" then "the derivation ${v.name or "?"}"
    else if t == "set" then "an attribute set { ${concatStringsSep " " (map (n: "${n} = ...;") (attrNames v))} }"
    else if t == "int" || t == "float" then "the number ${toString v}"
    else if t == "bool" then (if v then "true" else "false")
    else if t == "null" then "null"
    else if t == "string" then
      (if stringLength v > 60 then "the string \"${substring 0 57 v}...\"" else "the string \"${v}\"")
    else if t == "list" then "a list of ${toString (length v)}"
    else if t == "lambda" then "a function"
    else if t == "path" then "the path ${toString v}"
    else "a ${t}";

in rec {
  inherit lower describe distance;

  # check fn spec args: throws for an argument spec does not know, or one
  # that spec marks unsupported with a value other than its harmless
  # default; returns args. spec.known: the names; spec.unsupported: name ->
  # { default; why; }.
  check = fn: spec: args:
    let
      unsupported = spec.unsupported or { };
      names = attrNames args;
      unknown = filter (n: !(elem n spec.known) && !(unsupported ? ${n})) names;
      refused = filter (n: unsupported ? ${n} && args.${n} != unsupported.${n}.default) names;
    in
    if !isAttrs args then throw "dockertools.${fn}: takes an attribute set of arguments, not ${describe args}"
    else if unknown != [ ] then
      throw "dockertools.${fn}: unknown argument ${head unknown}${suggest (spec.known ++ attrNames unsupported) (head unknown)}"
    else if refused != [ ] then
      throw "dockertools.${fn}: ${head refused} is not supported: ${unsupported.${head refused}.why}"
    else args;

  # Type checks, each returning the value or throwing a message that names
  # the function and the argument.
  string = fn: arg: v: if isString v then v else throw "dockertools.${fn}: ${arg} must be a string, not ${describe v}";
  stringOrNull = fn: arg: v: if v == null || isString v then v else throw "dockertools.${fn}: ${arg} must be a string or null, not ${describe v}";
  bool = fn: arg: v: if isBool v then v else throw "dockertools.${fn}: ${arg} must be true or false, not ${describe v}";
  natural = fn: arg: v: if isInt v && v >= 0 then v else throw "dockertools.${fn}: ${arg} must be a number 0 or more, not ${describe v}";
  attrs = fn: arg: v: if v == null then { } else if isAttrs v && (v.type or null) != "derivation" then v
    else throw "dockertools.${fn}: ${arg} must be an attribute set, not ${describe v}";
  oneOf = fn: arg: choices: v:
    if isString v && elem v choices then v
    else throw "dockertools.${fn}: ${arg} must be one of ${concatStringsSep ", " (map (c: "\"${c}\"") choices)}, not ${describe v}";
  # A time: a string (RFC 3339, or "now") or a number of seconds.
  time = fn: arg: v: if isString v || (isInt v && v >= 0) then toString v
    else throw "dockertools.${fn}: ${arg} must be a date (RFC 3339, e.g. \"1970-01-01T00:00:01Z\", or \"now\"), not ${describe v}";

  # Something that is, or names, a store path or file: a path, a
  # derivation, or a string with a store path's context.
  isPathLike = v:
    isPath v
    || (isAttrs v && ((v.type or null) == "derivation" || v ? outPath))
    || (isString v && builtins.hasContext v);

  # nix2container's perms: a list of rules { path; regex; mode; uid; gid;
  # uname; gname; } as path-to-layer --perms reads them (JSON), each field
  # checked for its type here; path a string, or a path or derivation (its
  # store path); fields not given stay absent (the entry keeps its own).
  # What the values mean (an absolute path, an octal mode, a Go regex) is
  # path-to-layer's to check, at build time.
  perms = fn: v:
    let
      fields = [ "path" "regex" "mode" "uid" "gid" "uname" "gname" ];
      shape = "{ path; regex; mode; uid; gid; uname; gname; }";
      list = if isList v then v
        else throw "dockertools.${fn}: perms must be a list of rules ${shape}, not ${describe v}";
      rule = i: r:
        let
          at = "dockertools.${fn}: perms: rule ${toString (i + 1)}";
          unknown = filter (n: !(elem n fields)) (attrNames r);
          str = n: if isString r.${n} then r.${n}
            else throw "${at}: ${n} must be a string, not ${describe r.${n}}";
          nat = n: if isInt r.${n} && r.${n} >= 0 then r.${n}
            else throw "${at}: ${n} must be a number 0 or more, not ${describe r.${n}}";
          path =
            if isPath r.path then toString r.path
            else if isString r.path || isPathLike r.path then "${r.path}"
            else throw "${at}: path must be a string (\"/etc/motd\"), a path or a derivation, not ${describe r.path}";
          mode = if isString r.mode then r.mode
            else throw "${at}: mode must be an octal string such as \"0755\", not ${describe r.mode}";
          value = n:
            if n == "path" then path
            else if n == "mode" then mode
            else if n == "uid" || n == "gid" then nat n
            else str n;
        in
        if !isAttrs r || (r.type or null) == "derivation" then
          throw "${at} is ${describe r}, not an attribute set ${shape}"
        else if unknown != [ ] then throw "${at}: unknown field ${head unknown}${suggest fields (head unknown)}"
        else if !(r ? path) then throw "${at}: path is required (the rule applies at and below it; \"/\" is everything)"
        else builtins.listToAttrs (map (n: { name = n; value = value n; }) (attrNames r));
      rules = genList (i: rule i (builtins.elemAt list i)) (length list);
    in
    builtins.foldl' (ok: r: builtins.deepSeq r ok) rules rules;

  # A list of paths or derivations (a single one is a list of one), as
  # nixpkgs' contents.
  paths = fn: arg: v:
    let
      list = if isList v then v else [ v ];
      bad = filter (i: !isPathLike (builtins.elemAt list i)) (genList (i: i) (length list));
    in
    if bad == [ ] then list
    else throw "dockertools.${fn}: ${arg}: entry ${toString (head bad + 1)} is ${describe (builtins.elemAt list (head bad))}, not a path or a derivation";
}
