# Sourced by the benchmarks: sets $minbase to the root file system the tests use
# (test_support::debian_rootfs), a Debian bookworm minbase, made once under target/fixtures.
minbase=$PWD/target/fixtures/debian-bookworm-minbase
if [ ! -f "$minbase/var/lib/dpkg/status" ]; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null ||
           awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
  rm -rf "$minbase.partial" && mkdir -p "$(dirname "$minbase")"
  debootstrap --variant=minbase bookworm "$minbase.partial" "$mirror" >/dev/null
  find "$minbase.partial/dev" \( -type c -o -type b \) -delete
  mv "$minbase.partial" "$minbase"
fi
