#!/usr/bin/env bash
# Builds the .deb and the .rpm of oom_exporter:
#
#   deploy/packaging/build.sh          # both
#   deploy/packaging/build.sh deb      # or only one
#
# It builds the release binary, has it write its man pages and shell
# completions into target/release/packaging/, then runs `cargo deb` and
# `cargo generate-rpm` (install them with
# `cargo install --locked cargo-deb@3.8.0 cargo-generate-rpm@0.21.1`), which take the
# files named in Cargo.toml's [package.metadata.deb] and
# [package.metadata.generate-rpm]. It prints the path of each package.
# CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ $# -eq 0 ]; then formats=(deb rpm); else formats=("$@"); fi
for format in "${formats[@]}"; do
  case $format in
    deb) need=cargo-deb ;;
    rpm) need=cargo-generate-rpm ;;
    *) echo "usage: $0 [deb] [rpm]" >&2; exit 2 ;;
  esac
  command -v "$need" >/dev/null 2>&1 || {
    echo "$0: $need not found; install it with: cargo install --locked $need" >&2
    exit 1
  }
done

target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$PWD/$target ;; esac
cargo build --release --locked
bin=$target/release/oom_exporter
out=$target/release/packaging
rm -rf "$out"
mkdir -p "$out/man" "$out/completions"

# The man pages and completions of this very binary.
"$bin" man --out-dir "$out/man"
gzip -9n "$out"/man/*.1
"$bin" completions bash >"$out/completions/oom_exporter.bash"
"$bin" completions zsh >"$out/completions/_oom_exporter"
"$bin" completions fish >"$out/completions/oom_exporter.fish"

for format in "${formats[@]}"; do
  case $format in
    deb) cargo deb --no-build --locked --quiet ;;
    rpm)
      cargo generate-rpm
      # The newest .rpm, the one just written (cargo deb prints its own).
      ls -t "$target"/generate-rpm/*.rpm 2>/dev/null | head -n 1
      ;;
  esac
done
