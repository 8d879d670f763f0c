#!/usr/bin/env bash
# Set up and grade the Gradescope package on a pristine Debian root filesystem, the way Gradescope does.
#
# Gradescope's contract (gradescope/autograder_samples, docs/specs.md): the zip is extracted into
# /autograder/source; setup.sh runs there as root when the image is built; run_autograder is copied to
# /autograder/run_autograder and that copy runs from /autograder; the submission is in
# /autograder/submission; the result is /autograder/results/results.json; 768 MB of memory by default.
#
# This script (run as root on a Linux machine with debootstrap, chroot, overlayfs):
#   1. builds once, and caches, a pristine root filesystem: debootstrap --variant=minbase plus the few
#      packages Gradescope's base image has and setup.sh does not install (python3, ca-certificates,
#      curl, unzip, dos2unix);
#   2. builds the zip from this checkout (python -m staff package; python -m autograder package in older
#      trees), and in a chroot on an overlay of that root (the "image" layer, like Gradescope's docker
#      build; its own PID/IPC/UTS namespace, as a container has) unzips it into
#      /autograder/source, runs `apt-get update && cd /autograder/source && bash ./setup.sh` as root,
#      copies run_autograder to /autograder/run_autograder, then cleans apt's lists, /tmp and /var/tmp;
#   3. grades, each in a fresh overlay of that image (like Gradescope's one container per submission)
#      and in a memory cgroup of --memory-mb: the reference solution's five graded files (expected
#      100) and the untouched handout's (expected 0), running `cd /autograder && ./run_autograder`;
#   4. prints a summary (suite, Python, times, what setup.sh installed, scores, failing tests, memory
#      peak) and writes it, with every log, under the cache's logs/ folder.
#
# Usage: sudo staff/pristine_image.sh [options]
#   --cache DIR        cache folder (env PRISTINE_CACHE; default /var/tmp/autograder-pristine). The
#                      debootstrapped root is kept in DIR/SUITE/base and reused; the image and grading
#                      layers of the last run are kept for inspection until the next run.
#   --suite NAME       Debian suite (env PRISTINE_SUITE; default trixie: Python 3.13, which differs from
#                      the development machine's 3.11; bookworm gives Python 3.11)
#   --mirror URL       Debian mirror (env DEBIAN_MIRROR; default http://deb.debian.org/debian)
#   --rebuild-base     debootstrap again even if DIR/SUITE/base exists
#   --zip FILE         grade this zip instead of building one from the checkout
#   --from-head        build the zip from the last commit (git archive HEAD into a temporary folder)
#                      instead of the working tree, e.g. while the working tree is mid-edit
#   --regenerate-handout  WORKAROUND for a stale student_template/ (which `staff package` refuses):
#                      package a copy of the tree (working tree or --from-head) after running
#                      `python -m staff handout` in that copy; the checkout itself is never modified.
#                      The summary says so.
#   --python EXE       the Python that builds the zip (default: the checkout's .venv/bin/python)
#   --wheels DIR       bind-mount DIR read-only into the chroot and give setup.sh's pip
#                      PIP_FIND_LINKS=DIR (env PRISTINE_WHEELS). Off by default: pip downloads from PyPI.
#   --pip-cache        keep pip's download cache across runs in DIR/pip-cache (off by default: every
#                      run downloads everything, as Gradescope's image build does)
#   --no-host-ca       never copy this host's extra CA certificates into the chroot (by default they are
#                      copied only if HTTPS to pypi.org fails with Debian's own CA bundle, i.e. behind a
#                      TLS-intercepting proxy; Gradescope needs no such thing)
#   --reuse-image      skip the zip and setup.sh: grade again in the image the last successful run
#                      built (DIR/SUITE/image), e.g. with another --memory-mb. Not Gradescope's flow
#                      for a new zip; the summary says which run built the image.
#   --memory-mb N      memory limit of each grading (default 768, Gradescope's default; 0: no limit)
#   -h, --help
# Exit status: 0 when both scores are as expected (100 and 0), 1 otherwise, 2 on a usage or set-up error.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
CACHE="${PRISTINE_CACHE:-/var/tmp/autograder-pristine}"
SUITE="${PRISTINE_SUITE:-trixie}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
WHEELS="${PRISTINE_WHEELS:-}"
ZIP=""
FROM_HEAD=0
REGEN=0
REUSE=0
PY="$repo/.venv/bin/python"
REBUILD=0
PIP_CACHE=0
HOST_CA=auto
MEMORY_MB=768
# What Gradescope's base image has and setup.sh does not install itself (see the summary):
INCLUDE="python3,ca-certificates,curl,unzip,dos2unix"
VENV=/autograder/source/.venv
GRADED=(utils.py models/vae.py models/gan.py diffusion.py ewc.py)

usage() { sed -n '/^# Usage:/,/^# Exit status/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "pristine_image: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --cache) CACHE="$2"; shift 2 ;;
    --suite) SUITE="$2"; shift 2 ;;
    --mirror) MIRROR="$2"; shift 2 ;;
    --rebuild-base) REBUILD=1; shift ;;
    --zip) ZIP="$2"; shift 2 ;;
    --from-head) FROM_HEAD=1; shift ;;
    --regenerate-handout) REGEN=1; shift ;;
    --reuse-image) REUSE=1; shift ;;
    --python) PY="$2"; shift 2 ;;
    --wheels) WHEELS="$2"; shift 2 ;;
    --pip-cache) PIP_CACHE=1; shift ;;
    --no-host-ca) HOST_CA=never; shift ;;
    --memory-mb) MEMORY_MB="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, mount, cgroups)"
[[ "$MEMORY_MB" =~ ^[0-9]+$ ]] || die "--memory-mb takes a number"
[ -z "$WHEELS" ] || [ -d "$WHEELS" ] || die "--wheels: no folder $WHEELS"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || die "overlayfs is not available"

mkdir -p "$CACHE" && CACHE="$(cd "$CACHE" && pwd)"
exec 9>"$CACHE/.lock"
flock -n 9 || die "another run holds $CACHE/.lock"
stamp="$(date +%Y%m%d-%H%M%S)"
LOGDIR="$CACHE/logs/$stamp"
mkdir -p "$LOGDIR"
SUMMARY="$LOGDIR/summary.txt"
suitedir="$CACHE/$SUITE"
BASE="$suitedir/base"

now() { echo "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { s = b - a; printf "%.0f s (%d min %02d s)", s, s / 60, s % 60 }'; }
say() { echo "== $*"; }

# ---------------------------------------------------------------------------------------- mounts
declare -a MOUNTS=()
mounted() { MOUNTS+=("$1"); }
unmount_all() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" 2>/dev/null ||
      echo "pristine_image: could not unmount ${MOUNTS[i]}" >&2
  done
  MOUNTS=()
}
# Leftovers of an interrupted run (deepest first), so that no rm below can reach through a mount.
unmount_leftovers() {
  local m
  for m in $(awk -v c="$CACHE/" 'index($5, c) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
}
declare -a CGROUPS=()
cleanup() {
  unmount_all
  local c
  for c in "${CGROUPS[@]}"; do rmdir "$c" 2>/dev/null; done
}
trap cleanup EXIT
trap 'echo "pristine_image: interrupted" >&2; exit 130' INT TERM

# A fresh overlay (like a container's writable layer) at DIR/merged over the given lower layers.
overlay() {
  local dir="$1" lower="$2"
  rm -rf --one-file-system "$dir"
  mkdir -p "$dir/upper" "$dir/work" "$dir/merged"
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$dir/upper,workdir=$dir/work" "$dir/merged" ||
    die "cannot mount an overlay at $dir/merged"
  mounted "$dir/merged"
}
# /proc, /sys (read-only), /dev and a 64 MB /dev/shm (Docker's default) inside ROOT, plus the options'
# read-only wheel folder and pip cache.
pseudo_fs() {
  local r="$1"
  mount -t proc proc "$r/proc" && mounted "$r/proc"
  mount -t sysfs -o ro sysfs "$r/sys" && mounted "$r/sys"
  mount --bind /dev "$r/dev" && mounted "$r/dev"
  mount --bind /dev/pts "$r/dev/pts" && mounted "$r/dev/pts"
  mount -t tmpfs -o size=64m,mode=1777,nosuid,nodev shm "$r/dev/shm" && mounted "$r/dev/shm"
  if [ -n "$WHEELS" ]; then
    mkdir -p "$r/mnt/local-wheels"
    mount --bind "$WHEELS" "$r/mnt/local-wheels" && mounted "$r/mnt/local-wheels"
    mount -o remount,bind,ro "$r/mnt/local-wheels"
  fi
  if [ "$PIP_CACHE" = 1 ]; then
    mkdir -p "$CACHE/pip-cache" "$r/root/.cache/pip"
    mount --bind "$CACHE/pip-cache" "$r/root/.cache/pip" && mounted "$r/root/.cache/pip"
  fi
}
CHROOT_ENV=(env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
            TERM=dumb DEBIAN_FRONTEND=noninteractive)
[ -z "$WHEELS" ] || CHROOT_ENV+=(PIP_FIND_LINKS=/mnt/local-wheels)
in_root() { local r="$1"; shift; chroot "$r" "${CHROOT_ENV[@]}" "$@"; }
# setup.sh and the gradings run, as in a container, in their own PID (and IPC, UTS) namespace with its
# own /proc: the grader kills every process of a worker's uid (kill(-1) as that uid), which in a plain
# chroot would reach this host's processes of the same uid, e.g. the host's own gradeworker users.
in_container() {
  local r="$1"; shift
  unshare --pid --fork --ipc --uts --mount-proc="$r/proc" chroot "$r" "${CHROOT_ENV[@]}" "$@"
}

# ---------------------------------------------------------------------------------------- memory
# A child of this process's memory cgroup, limited to MEMORY_MB. Sets CG_DIR and CG_VERSION.
CG_DIR=""; CG_VERSION=""; CG_WHY=""
cgroup_make() {
  local name="$1" parent
  CG_DIR=""; CG_VERSION=""
  [ "$MEMORY_MB" -gt 0 ] || { CG_WHY="no limit asked (--memory-mb 0)"; return 1; }
  local bytes=$((MEMORY_MB * 1024 * 1024))
  if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
    parent="/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)"
    grep -qw memory "$parent/cgroup.subtree_control" 2>/dev/null ||
      echo +memory > "$parent/cgroup.subtree_control" 2>/dev/null ||
      { CG_WHY="cgroup v2: cannot enable the memory controller below $parent (it holds processes)"; return 1; }
    mkdir "$parent/$name" 2>/dev/null || { CG_WHY="cgroup v2: cannot create $parent/$name"; return 1; }
    CGROUPS+=("$parent/$name")
    echo "$bytes" > "$parent/$name/memory.max" || { CG_WHY="cgroup v2: cannot write memory.max"; return 1; }
    echo 0 > "$parent/$name/memory.swap.max" 2>/dev/null
    CG_DIR="$parent/$name"; CG_VERSION=2
  elif [ -d /sys/fs/cgroup/memory ]; then
    parent="/sys/fs/cgroup/memory$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup)"
    mkdir "$parent/$name" 2>/dev/null || { CG_WHY="cgroup v1: cannot create $parent/$name"; return 1; }
    CGROUPS+=("$parent/$name")
    echo "$bytes" > "$parent/$name/memory.limit_in_bytes" ||
      { CG_WHY="cgroup v1: cannot write memory.limit_in_bytes"; return 1; }
    echo "$bytes" > "$parent/$name/memory.memsw.limit_in_bytes" 2>/dev/null   # no swap either, where accounted
    CG_DIR="$parent/$name"; CG_VERSION=1
  else
    CG_WHY="no memory cgroup (neither v2 at /sys/fs/cgroup nor v1 at /sys/fs/cgroup/memory)"; return 1
  fi
}
# Samples the cgroup's anonymous + shared memory (what cannot be reclaimed without swap) into FILE.
cgroup_sampler() {
  local stat="$1" out="$2" k v sum max=0
  local keys=" total_rss total_shmem " ; [ "$CG_VERSION" = 2 ] && keys=" anon shmem "
  while [ -e "$stat" ]; do
    sum=0
    while read -r k v; do [[ "$keys" == *" $k "* ]] && sum=$((sum + v)); done < "$stat" 2>/dev/null
    if [ "$sum" -gt "$max" ]; then max=$sum; echo "$max" > "$out"; fi
    sleep 0.2
  done
}
mb() { awk -v b="${1:-0}" 'BEGIN { printf "%.0f MB", b / 1048576 }'; }
cgroup_report() {
  local d="$1" sampled="$2" peak fail oom
  if [ "$CG_VERSION" = 1 ]; then
    peak="$(cat "$d/memory.max_usage_in_bytes")"; fail="$(cat "$d/memory.failcnt")"
    [ ! -r "$d/memory.memsw.failcnt" ] || fail+=" (memsw $(cat "$d/memory.memsw.failcnt"))"
    oom="$(awk '$1 == "oom_kill" { print $2 }' "$d/memory.oom_control")"
    echo "cgroup v1, limit $MEMORY_MB MB: peak usage $(mb "$peak") (memory.max_usage_in_bytes, page cache included)," \
         "peak anon+shmem $(mb "$(cat "$sampled" 2>/dev/null)") (sampled every 0.2 s), failcnt $fail, oom_kill ${oom:-?}"
  else
    peak="$(cat "$d/memory.peak" 2>/dev/null || echo)"
    oom="$(awk '$1 == "oom_kill" { print $2 }' "$d/memory.events")"
    echo "cgroup v2, limit $MEMORY_MB MB: peak usage ${peak:+$(mb "$peak")}${peak:-unknown (no memory.peak)} (page cache included)," \
         "peak anon+shmem $(mb "$(cat "$sampled" 2>/dev/null)") (sampled every 0.2 s), oom_kill ${oom:-?}"
  fi
}

[ "$REUSE" = 0 ] || [ "$REBUILD" = 0 ] || die "--reuse-image needs the base it was built on (not --rebuild-base)"
wheels_line="PyPI, downloaded by pip from inside the chroot (no local wheels)"
[ -z "$WHEELS" ] || wheels_line="LOCAL WHEELS offered: $WHEELS bind-mounted read-only at /mnt/local-wheels, PIP_FIND_LINKS=/mnt/local-wheels; PyPI stays reachable (pip takes what the folder lacks, and may take an identical file from either)"
[ "$PIP_CACHE" = 0 ] || wheels_line+="; pip's download cache kept across runs in $CACHE/pip-cache"

# ---------------------------------------------------------------------------------------- 1. base
command -v debootstrap >/dev/null || {
  say "installing debootstrap"
  apt-get install -y -qq debootstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq debootstrap; } ||
    die "cannot install debootstrap"
}
unmount_leftovers
mkdir -p "$suitedir"
if [ "$REBUILD" = 1 ] || [ ! -f "$suitedir/base.meta" ]; then
  say "debootstrap --variant=minbase --include=$INCLUDE $SUITE ($MIRROR); log: $LOGDIR/debootstrap.log"
  rm -rf --one-file-system "$BASE" "$BASE.partial" "$suitedir/base.meta"
  t0="$(now)"
  if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$BASE.partial" "$MIRROR" \
      > "$LOGDIR/debootstrap.log" 2>&1; then
    tail -20 "$LOGDIR/debootstrap.log" >&2; die "debootstrap failed (log: $LOGDIR/debootstrap.log)"
  fi
  t1="$(now)"
  rm -rf "$BASE.partial/var/cache/apt/archives/"*.deb
  mv "$BASE.partial" "$BASE"
  { echo "suite=$SUITE"; echo "mirror=$MIRROR"; echo "include=$INCLUDE"; echo "built=$(date -Is)"
    echo "seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')"; } > "$suitedir/base.meta"
  base_how="built now by debootstrap in $(secs "$t0" "$t1")"
else
  base_how="reused from $BASE (built $(sed -n 's/^built=//p' "$suitedir/base.meta") by debootstrap in $(sed -n 's/^seconds=//p' "$suitedir/base.meta") s)"
fi
say "root filesystem: Debian $SUITE, $base_how"
base_python="$(chroot "$BASE" /usr/bin/python3 --version 2>&1)"
base_packages="$(chroot "$BASE" dpkg-query -W -f '${Package}\n' | wc -l)"
base_size="$(du -sh --one-file-system "$BASE" | cut -f1)"

IMAGE="$suitedir/image"
STATE="$suitedir/image.state"
SUBMIT_SRC="$suitedir/submissions"     # the graded files of reference/ and student_template/ of the zip's tree
rm -rf --one-file-system "$suitedir"/grade-*
if [ "$REUSE" = 1 ]; then
  [ -f "$STATE" ] && [ -d "$IMAGE/upper" ] || die "--reuse-image: no image of a successful run in $IMAGE"
  # shellcheck disable=SC1090
  source "$STATE"
  cp "$suitedir/pip-freeze.txt" "$LOGDIR/pip-freeze.txt"
  say "REUSED image (no zip built, no setup.sh run): $image_how"
else
# ---------------------------------------------------------------------------------------- 2. zip
if [ -z "$ZIP" ]; then
  ZIP="$LOGDIR/autograder.zip"
  src="$repo"
  zip_from="built from the working tree of $repo (HEAD $(git -C "$repo" rev-parse --short HEAD 2>/dev/null)"
  dirty="$(git -C "$repo" status --porcelain 2>/dev/null | wc -l)"
  [ "$dirty" = 0 ] && zip_from+=", clean)" || zip_from+=" + $dirty uncommitted changes)"
  if [ "$FROM_HEAD" = 1 ]; then
    src="$LOGDIR/head"
    mkdir -p "$src" && git -C "$repo" archive HEAD | tar -x -C "$src" || die "git archive HEAD failed"
    zip_from="built from the last commit $(git -C "$repo" log -1 --format='%h (%cI)') (git archive HEAD; working tree ignored)"
  elif [ "$REGEN" = 1 ]; then
    src="$LOGDIR/worktree"
    mkdir -p "$src"
    (cd "$repo" && git ls-files -z --cached --others --exclude-standard |
       tar --null -T - --ignore-failed-read -c 2>/dev/null) | tar -x -C "$src" || die "cannot copy the working tree"
  fi
  if [ "$REGEN" = 1 ]; then
    say "WORKAROUND --regenerate-handout: python -m staff handout in the copy $src"
    (cd "$src" && PYTHONDONTWRITEBYTECODE=1 "$PY" -m staff handout) > "$LOGDIR/handout.log" 2>&1 ||
      { cat "$LOGDIR/handout.log" >&2; die "python -m staff handout failed in the copy"; }
    zip_from+="; WORKAROUND: student_template/ regenerated in that copy (python -m staff handout) before packaging"
  fi
  # The verb moved from `python -m autograder package` to `python -m staff package`; either works here.
  verb=autograder; [ -f "$src/staff/__main__.py" ] && verb=staff
  say "building the zip: python -m $verb package ($zip_from)"
  # The copy is no git checkout: `staff package` refuses it unless told (its version file then says "unknown").
  dirty=(); (cd "$src" && "$PY" -m "$verb" package --help 2>/dev/null | grep -q -- --allow-dirty) && dirty=(--allow-dirty)
  if ! (cd "$src" && PYTHONDONTWRITEBYTECODE=1 "$PY" -m "$verb" package --out "$ZIP" "${dirty[@]}") > "$LOGDIR/package.log" 2>&1; then
    cat "$LOGDIR/package.log" >&2; die "python -m $verb package refused or failed (log above; --from-head packages the last commit)"
  fi
  cat "$LOGDIR/package.log"
else
  [ -f "$ZIP" ] || die "--zip: no file $ZIP"
  ZIP="$(readlink -f "$ZIP")"; zip_from="given (--zip)"; src="$repo"
fi
# The submissions are taken from the same tree as the zip (its reference/ and student_template/).
rm -rf "$SUBMIT_SRC"
for from in reference student_template; do
  for f in "${GRADED[@]}"; do install -D -m 644 "$src/$from/$f" "$SUBMIT_SRC/$from/$f" || die "no $src/$from/$f"; done
done
[ "$src" = "$repo" ] || rm -rf "$src"
zip_files="$(python3 -c 'import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).namelist()))' "$ZIP")"
zip_sha="$(sha256sum "$ZIP" | cut -c1-16)"

# ---------------------------------------------------------------------------------------- 3. image
rm -f "$STATE"
overlay "$IMAGE" "$BASE"
R="$IMAGE/merged"
pseudo_fs "$R"
cp -L /etc/resolv.conf "$R/etc/resolv.conf"      # as Docker does
mkdir -p "$R/tmp" && cp "$ZIP" "$R/tmp/autograder.zip"

# HTTPS from inside the root with Debian's CA bundle only. Behind a TLS-intercepting proxy (this kind of
# build machine) it fails; then this host's extra CAs are added: a HOST ADAPTATION, not Gradescope's flow.
tls_probe='import ssl, urllib.request
try:
    urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=30, context=ssl.create_default_context()).read(100)
    print("ok")
except Exception as e:
    print(type(e).__name__, str(e)[:150])'
tls="$(in_root "$R" python3 -c "$tls_probe" 2>&1)"
host_ca="not needed (HTTPS to pypi.org works with Debian's CA bundle)"
if [ "$tls" != ok ]; then
  extra=(/usr/local/share/ca-certificates/*.crt)
  if [ "$HOST_CA" = never ] || [ ! -e "${extra[0]}" ]; then
    host_ca="NEEDED but not added: HTTPS to pypi.org fails inside the root ($tls); setup.sh's pip will fail"
  else
    mkdir -p "$R/usr/local/share/ca-certificates"
    cp "${extra[@]}" "$R/usr/local/share/ca-certificates/"
    in_root "$R" update-ca-certificates > "$LOGDIR/host-ca.log" 2>&1
    tls2="$(in_root "$R" python3 -c "$tls_probe" 2>&1)"
    host_ca="HOST ADAPTATION: HTTPS to pypi.org failed with Debian's CA bundle ($tls), so this host's"
    host_ca+=" $(basename -a "${extra[@]}" | tr '\n' ' ')were added to the image (after: $tls2)."
    host_ca+=" Gradescope's network needs no such thing."
  fi
fi
say "TLS: $host_ca"

# Gradescope's docker build: unzip into /autograder/source, copy run_autograder, setup.sh as root.
say "unzip into /autograder/source"
mkdir -p "$R/autograder/source"
if ! in_root "$R" unzip -q -n -d /autograder/source /tmp/autograder.zip > "$LOGDIR/unzip.log" 2>&1; then
  cat "$LOGDIR/unzip.log" >&2; die "unzip failed inside the root"
fi
modes="$(stat -c '%n %A' "$R/autograder/source/setup.sh" "$R/autograder/source/run_autograder" | sed "s|$R||")"
modes_ok=yes
[ -x "$R/autograder/source/setup.sh" ] && [ -x "$R/autograder/source/run_autograder" ] || modes_ok="NO"
say "modes after unzip: $(echo "$modes" | tr '\n' ';') executable: $modes_ok"
in_root "$R" dpkg-query -W -f '${Package}\n' | sort > "$LOGDIR/dpkg-before.txt"

say "apt-get update && cd /autograder/source && bash ./setup.sh (as root); log: $LOGDIR/setup.log"
t0="$(now)"
in_container "$R" bash -c 'apt-get update -qq && cd /autograder/source && bash ./setup.sh' < /dev/null 2>&1 |
  tee "$LOGDIR/setup.log" | sed 's/^/  setup| /'
setup_rc="${PIPESTATUS[0]}"
t1="$(now)"
setup_time="$(secs "$t0" "$t1")"
say "setup.sh: exit $setup_rc after $setup_time"
in_root "$R" cp /autograder/source/run_autograder /autograder/run_autograder
in_root "$R" dpkg-query -W -f '${Package}\n' | sort > "$LOGDIR/dpkg-after.txt"
apt_added="$(comm -13 "$LOGDIR/dpkg-before.txt" "$LOGDIR/dpkg-after.txt")"
venv_python="$(in_root "$R" $VENV/bin/python --version 2>&1 || echo "no venv")"
in_root "$R" $VENV/bin/python -m pip freeze --all > "$LOGDIR/pip-freeze.txt" 2>&1
venv_size="$(du -sh --one-file-system "$IMAGE/upper$VENV" 2>/dev/null | cut -f1)"
image_size="$(du -sh --one-file-system "$IMAGE/upper" | cut -f1)"
workers="$(in_root "$R" getent passwd | awk -F: '$1 ~ /^gradeworker/ { printf "%s(%s) ", $1, $3 }')"
# The end of Gradescope's RUN line.
in_root "$R" bash -c 'apt-get clean; rm -rf /var/lib/apt/lists/* /tmp/* /var/tmp/*'
unmount_all
image_how="built by this run ($stamp; setup.sh log $LOGDIR/setup.log)"
if [ "$setup_rc" = 0 ]; then
  cp "$LOGDIR/pip-freeze.txt" "$suitedir/pip-freeze.txt"
  { declare -p zip_from ZIP zip_files zip_sha host_ca modes modes_ok setup_rc setup_time apt_added venv_python \
               venv_size image_size workers wheels_line
    echo "image_how=$(printf %q "built by run $stamp (setup.sh log $LOGDIR/setup.log)")"; } > "$STATE"
fi
fi   # REUSE

# ---------------------------------------------------------------------------------------- 4. grade
declare -A SCORE=() EXPECTED=([reference]=100 [template]=0) GRADE_TIME=() MEMORY=() FAILING=() VERDICT=()
grade() {
  local name="$1" from="$2" dir="$suitedir/grade-$1" f sampler=""
  overlay "$dir" "$IMAGE/upper:$BASE"
  local r="$dir/merged"
  pseudo_fs "$r"
  for f in "${GRADED[@]}"; do install -D -m 644 "$SUBMIT_SRC/$from/$f" "$r/autograder/submission/$f"; done
  local cg_ok=0
  if cgroup_make "pristine-$$-$name"; then
    cg_ok=1
    cgroup_sampler "$CG_DIR/memory.stat" "$LOGDIR/anon-peak-$name" &
    sampler=$!
  fi
  say "grading $name ($SUBMIT_SRC/$from/, expected ${EXPECTED[$name]}): cd /autograder && ./run_autograder; log: $LOGDIR/grade-$name.log"
  local t0 t1 rc
  t0="$(now)"
  if [ "$cg_ok" = 1 ]; then
    bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' _ "$CG_DIR" \
      unshare --pid --fork --ipc --uts --mount-proc="$r/proc" chroot "$r" "${CHROOT_ENV[@]}" \
      bash -c 'cd /autograder && ./run_autograder' < /dev/null > "$LOGDIR/grade-$name.log" 2>&1
  else
    in_container "$r" bash -c 'cd /autograder && ./run_autograder' < /dev/null > "$LOGDIR/grade-$name.log" 2>&1
  fi
  rc=$?
  t1="$(now)"
  GRADE_TIME[$name]="$(secs "$t0" "$t1") (run_autograder exit $rc)"
  if [ "$cg_ok" = 1 ]; then
    MEMORY[$name]="$(cgroup_report "$CG_DIR" "$LOGDIR/anon-peak-$name")"
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
  else
    MEMORY[$name]="NOT MEASURED, no memory limit: $CG_WHY"
  fi
  local results="$r/autograder/results/results.json"
  if [ -s "$results" ]; then
    cp "$results" "$LOGDIR/results-$name.json"
    SCORE[$name]="$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(d.get("score"), "/", sum(t.get("max_score") or 0 for t in d.get("tests", [])),
      "(grader_failure)" if (d.get("extra_data") or {}).get("grader_failure") else "")' "$results")"
    FAILING[$name]="$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
bad = [t for t in d.get("tests", []) if (t.get("score") or 0) < (t.get("max_score") or 0)]
for t in bad:
    lines = [l.strip() for l in (t.get("output") or "").splitlines() if l.strip() and l.strip() != "Your code raised an error:"]
    first = (lines or [""])[0][:110]
    print("    - %s %s: %s/%s  %s" % (t.get("number", ""), t.get("name", ""), t.get("score"), t.get("max_score"), first))
if not bad: print("    none")' "$results")"
    local score="${SCORE[$name]%% *}"
    if awk -v s="$score" -v e="${EXPECTED[$name]}" 'BEGIN { exit !(s + 0 == e + 0) }'; then VERDICT[$name]=OK; else VERDICT[$name]=UNEXPECTED; fi
  else
    SCORE[$name]="none (no results.json)"; FAILING[$name]="    (see the log)"; VERDICT[$name]=FAILED
  fi
  say "$name: score ${SCORE[$name]} (expected ${EXPECTED[$name]}: ${VERDICT[$name]}), ${GRADE_TIME[$name]}"
  echo "${FAILING[$name]}"
  echo "   memory: ${MEMORY[$name]}"
  unmount_all
}
if [ "$setup_rc" = 0 ]; then
  grade reference reference
  grade template student_template
else
  for n in reference template; do SCORE[$n]="not graded (setup.sh failed)"; VERDICT[$n]=FAILED; GRADE_TIME[$n]="-"; MEMORY[$n]="-"; FAILING[$n]="    -"; done
fi

# ---------------------------------------------------------------------------------------- 5. summary
{
  echo "pristine Gradescope-flow check, $(date -Is), log folder $LOGDIR"
  echo "image:          $image_how"
  echo "zip:            $ZIP ($zip_files files, $(du -h "$ZIP" | cut -f1), sha256 $zip_sha...), $zip_from"
  echo "submissions:    ${GRADED[*]} from reference/ and from student_template/ of the tree the zip was built from"
  echo "root:           Debian $SUITE, debootstrap --variant=minbase --include=$INCLUDE ($MIRROR)"
  echo "                $base_how; $base_packages packages, $base_size"
  echo "Python inside:  $base_python (system); venv: $venv_python"
  echo "pip's network:  $wheels_line"
  echo "TLS:            $host_ca"
  echo "zip modes:      $(echo "$modes" | tr '\n' ';') executable: $modes_ok"
  echo "setup.sh:       exit $setup_rc after $setup_time (apt-get update included; log $LOGDIR/setup.log)"
  echo "  apt packages setup.sh installed ($(echo "$apt_added" | grep -c .)): $(echo "$apt_added" | tr '\n' ' ')"
  echo "  venv $VENV: $venv_size (whole image layer $image_size); worker users: ${workers:-none}"
  echo "  pip freeze --all ($(grep -c . "$LOGDIR/pip-freeze.txt") lines, $LOGDIR/pip-freeze.txt):"
  paste -sd' ' "$LOGDIR/pip-freeze.txt" | fold -s -w 106 | sed 's/^/    /'
  for n in reference template; do
    echo "grading $n:  score ${SCORE[$n]} (expected ${EXPECTED[$n]}: ${VERDICT[$n]}), ${GRADE_TIME[$n]}"
    echo "  failing tests:"; echo "${FAILING[$n]}"
    echo "  memory: ${MEMORY[$n]}"
  done
} > "$SUMMARY"
echo
cat "$SUMMARY"
echo
echo "summary written to $SUMMARY"
[ "${VERDICT[reference]}" = OK ] && [ "${VERDICT[template]}" = OK ]
