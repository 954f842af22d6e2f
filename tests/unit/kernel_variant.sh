#!/usr/bin/env bash
# The unit tests whose results go through the kernels (tags [core], [nn], [ablation], [info],
# [pairs]: gemm, the optimisers, the forward passes, the binning) again on a lower kernel
# variant, IOCA_KERNELS=ISA. The plain unit run covers the variant this machine picks by
# itself, and readers, files and the study plumbing ([data], [io], [pipeline], [study]) do
# not depend on the variant; so this test is skipped (status 77) when ISA is the machine's
# own variant, or one the CPU cannot run (IOCA_KERNELS only lowers the choice).
# usage: kernel_variant.sh IOCA UNIT_TESTS ISA
set -euo pipefail
ioca=$1 unit=$2 isa=$3
isa_of() { sed -n 's/.*kernels \([a-z0-9]*\))$/\1/p'; }  # from "ioca 0.1.0 (git …, kernels avx2)"
best=$(env -u IOCA_KERNELS "$ioca" --version | isa_of)
got=$(env IOCA_KERNELS="$isa" "$ioca" --version | isa_of)
[ -n "$best" ] && [ -n "$got" ] || { echo "cannot read the kernel variant from $ioca --version" >&2; exit 1; }
if [ "$best" = "$isa" ]; then
  echo "SKIP: $isa is this machine's own variant (the unit tests ran on it)"
  exit 77
fi
if [ "$got" != "$isa" ]; then
  echo "SKIP: this CPU cannot run the $isa kernels (IOCA_KERNELS=$isa gives $got)"
  exit 77
fi
IOCA_KERNELS=$isa exec "$unit" --warn NoTests '[core],[nn],[ablation],[info],[pairs]'
