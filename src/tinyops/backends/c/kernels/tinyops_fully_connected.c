/* FULLY_CONNECTED (int8): rows of the input times the [units][depth] filter, on the matrix core
 * of tinyops_conv.c (two rows by two units at a time, SMLAD on DSP cores). */
#include "tinyops_kernels.h"
#include "tinyops_internal.h"

void tinyops_fc_s8(const tinyops_fc_params *p, const int8_t *input, const int8_t *filter,
                   const int32_t *bias, const int32_t *mult, const int32_t *shift,
                   int8_t *output, void *scratch, int32_t oc_start, int32_t oc_stop)
{
    const tinyops_stage st = {bias, mult, shift, p->out_zp, p->act_min, p->act_max, p->acc_small};
    tinyops_internal_rows_s8(p->rows, p->depth, p->units, input, filter, &st, output, scratch,
                             oc_start, oc_stop);
}
