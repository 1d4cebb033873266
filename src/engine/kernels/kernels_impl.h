/* kernels_impl.h - private to src/engine/kernels: how the per-ISA tables are built.
 *
 * Each ISA file fills a table starting from the one below it (scalar -> avx2 -> avx512 ->
 * avx512vnni), overriding only what it does better, so a kernel missing in one ISA falls
 * back to the one below.
 */
#ifndef OSR_KERNELS_IMPL_H
#define OSR_KERNELS_IMPL_H

#include "osr/kernels.h"

void osr_kernels_fill_scalar(struct osr_kernels *k);
void osr_kernels_fill_avx2(struct osr_kernels *k);
void osr_kernels_fill_avx512(struct osr_kernels *k);
void osr_kernels_fill_avx512vnni(struct osr_kernels *k);

#endif
