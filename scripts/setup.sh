#!/usr/bin/env bash
# Installs the Debian 12 packages mlptrain needs, plus optional groups (--with GROUP).
# Idempotent and non-interactive: each package is checked with dpkg-query first, and apt-get
# runs only when something is missing, so a second run is fast and needs no network.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/setup.sh [--with GROUP[,GROUP...]]... [--list] [--help]

Installs mlptrain's build dependencies (Debian 12 packages) when any is missing.
  --with GROUP   also install an optional package group (repeatable, or comma-separated)
  --list         print the base packages and every group, then exit
Groups:
EOF
    local group
    for group in "${GROUP_NAMES[@]}"; do
        printf '  %-14s %s\n' "$group" "${PACKAGE_GROUPS[$group]}"
    done
}

# Base build dependencies; CMakeLists.txt links the pthread OpenBLAS build (one thread per
# call). Open MPI is part of the base so that the MPI communicator is built and tested;
# python3-numpy lets a test read a checkpoint without mlptrain; python3-matplotlib lets
# one run scripts/plot_metrics.py. librandom123-dev is the reference Philox generator.
# The plots group adds what scripts/plot_boundary.py and tests/test_plots.py need besides:
# python3-pil (GIFs, palette PNGs, reading pictures back). libdnnl-dev (oneDNN 2.6) is base,
# as Open MPI is, so that the default build has --gemm onednn and --precision bf16 and the
# tests prove them; ocl-icd-opencl-dev must come with it because Debian's oneDNN CMake
# package requires OpenCL (a Recommends of libdnnl-dev, which --no-install-recommends below
# would skip). Without them CMake builds the rest and --gemm onednn says what to install.
BASE_PACKAGES=(
    cmake ninja-build g++ pkg-config
    libtbb-dev libopenblas-dev libopenblas-pthread-dev
    libboost-program-options-dev doctest-dev zlib1g-dev nlohmann-json3-dev librandom123-dev
    libopenmpi-dev openmpi-bin python3-numpy python3-matplotlib
    libdnnl-dev ocl-icd-opencl-dev
)

# Optional groups: add a group by adding one entry here and its name to GROUP_NAMES.
declare -A PACKAGE_GROUPS=(
    [mpi]="libopenmpi-dev openmpi-bin"
    [fashion-mnist]="dataset-fashion-mnist time"
    [torch]="python3-torch python3-numpy"
    [plots]="python3-matplotlib python3-pil"
    # A real Slurm for scripts/slurm/local_cluster.sh and the slurm-labelled tests. Slurm's
    # pmix plugin dlopen()s the unversioned libpmix.so, which only libpmix-dev ships: without
    # it `srun --mpi=list` still lists pmix, but `srun --mpi=pmix` fails.
    [slurm]="slurm-wlm munge libpmix-dev"
)
GROUP_NAMES=(mpi fashion-mnist torch plots slurm)

add_group() {
    local group=$1
    if [[ -z "$group" || -z "${PACKAGE_GROUPS[$group]+set}" ]]; then
        echo "setup.sh: unknown package group '$group' (known: ${GROUP_NAMES[*]})" >&2
        exit 2
    fi
    local pkg
    for pkg in ${PACKAGE_GROUPS[$group]}; do
        WANTED+=("$pkg")
    done
}

add_groups() {  # one --with value: a group name or a comma-separated list of them
    local list=$1 group
    local -a groups
    IFS=',' read -r -a groups <<<"$list"
    if [[ ${#groups[@]} -eq 0 ]]; then
        add_group ""
    fi
    for group in "${groups[@]}"; do
        add_group "$group"
    done
}

WANTED=("${BASE_PACKAGES[@]}")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --with)
            if [[ $# -lt 2 ]]; then
                echo "setup.sh: --with needs a group name (known: ${GROUP_NAMES[*]})" >&2
                exit 2
            fi
            add_groups "$2"
            shift 2
            ;;
        --with=*)
            add_groups "${1#--with=}"
            shift
            ;;
        --list)
            echo "base: ${BASE_PACKAGES[*]}"
            for group in "${GROUP_NAMES[@]}"; do
                echo "$group: ${PACKAGE_GROUPS[$group]}"
            done
            exit 0
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            echo "setup.sh: unknown argument '$1'" >&2
            usage >&2
            exit 2
            ;;
    esac
done

# A group may repeat a base package or be given twice; keep the first of each name.
declare -A SEEN=()
UNIQUE=()
for pkg in "${WANTED[@]}"; do
    if [[ -z "${SEEN[$pkg]+set}" ]]; then
        UNIQUE+=("$pkg")
        SEEN[$pkg]=1
    fi
done
WANTED=("${UNIQUE[@]}")

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "setup.sh: dpkg-query not found; this script supports Debian 12 (and derivatives) only." >&2
    echo "Install the equivalents of: ${WANTED[*]}" >&2
    echo "then build with MLPTRAIN_SKIP_SETUP=1 scripts/build.sh" >&2
    exit 1
fi

is_installed() {
    local status
    status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)
    [[ "$status" == installed ]]
}

missing_packages() {
    local pkg
    for pkg in "${WANTED[@]}"; do
        if ! is_installed "$pkg"; then
            echo "$pkg"
        fi
    done
}

mapfile -t MISSING < <(missing_packages)

if [[ ${#MISSING[@]} -gt 0 ]]; then
    APT_OPTS=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300)
    if [[ $EUID -eq 0 ]]; then
        AS_ROOT=(env DEBIAN_FRONTEND=noninteractive)
    elif command -v sudo >/dev/null 2>&1; then
        # sudo resets the environment, so pass DEBIAN_FRONTEND through env.
        AS_ROOT=(sudo env DEBIAN_FRONTEND=noninteractive)
    else
        echo "setup.sh: missing packages, and not root and no sudo to install them. Run as root:" >&2
        echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${MISSING[*]}" >&2
        exit 1
    fi
    echo "setup.sh: installing missing packages: ${MISSING[*]}"
    "${AS_ROOT[@]}" apt-get update -q
    "${AS_ROOT[@]}" apt-get install "${APT_OPTS[@]}" "${MISSING[@]}"

    mapfile -t STILL_MISSING < <(missing_packages)
    if [[ ${#STILL_MISSING[@]} -gt 0 ]]; then
        echo "setup.sh: still missing after apt-get install: ${STILL_MISSING[*]}" >&2
        exit 1
    fi
fi

# CMakeLists.txt links the serial OpenBLAS from its own directory; make sure it is there.
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || true)
if [[ -n "$multiarch" && ! -d "/usr/lib/$multiarch/openblas-pthread" ]]; then
    echo "setup.sh: /usr/lib/$multiarch/openblas-pthread not found although libopenblas-pthread-dev" \
        "is installed; reinstall it: apt-get install --reinstall libopenblas-pthread-dev" >&2
    exit 1
fi

echo "setup.sh: all ${#WANTED[@]} required packages are installed."
