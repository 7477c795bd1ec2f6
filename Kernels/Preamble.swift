// Shared by every program: contraction off, NaN-propagating min/max, Philox4x32-10 and the (0,1) uniform map.

extension KernelSources {
    public static let preamble = #"""
    #pragma OPENCL FP_CONTRACT OFF

    #ifndef LK_WG
    #define LK_WG 256
    #endif

    /* max/min that return NaN when either operand is NaN (fmax/fmin would drop it). */
    inline float lk_max(float a, float b) { return (a > b || isnan(a)) ? a : b; }
    inline float lk_min(float a, float b) { return (a < b || isnan(a)) ? a : b; }

    /* Philox4x32-10 (Salmon et al. 2011); twin of Philox.block in Sources/LatentCore/Philox.swift. */
    inline uint4 lk_philox4x32_10(uint4 c, uint2 k) {
        for (int round = 0; round < 10; ++round) {
            uint lo0 = 0xD2511F53u * c.x, hi0 = mul_hi(0xD2511F53u, c.x);
            uint lo1 = 0xCD9E8D57u * c.z, hi1 = mul_hi(0xCD9E8D57u, c.z);
            c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
            if (round < 9) { k.x += 0x9E3779B9u; k.y += 0xBB67AE85u; }
        }
        return c;
    }

    /* The counter of block b: (c0, c1) + b as a 64-bit number, (c2, c3) unchanged. */
    inline uint4 lk_counter_at(uint4 c, uint b) {
        uint lo = c.x + b;
        return (uint4)(lo, c.y + (lo < c.x ? 1u : 0u), c.z, c.w);
    }

    /* Column tiles: a work-group covers LK_TILE_COLS adjacent columns of a row-major matrix with LK_TILE_ROWS work-items
       each (adjacent work-items read adjacent columns of a row, so loads coalesce); each work-item strides down its
       column from row lane / LK_TILE_COLS. The work-group-per-column form of a column reduction, for GPUs. */
    #define LK_TILE_COLS (LK_WG < 16 ? LK_WG : 16)
    #define LK_TILE_ROWS (LK_WG / LK_TILE_COLS)

    /* The sum of `value` over the LK_TILE_ROWS work-items of each column of a tile, returned to all of them. Every
       work-item of the group must call it (it has barriers); `partial` holds LK_WG floats. */
    inline float lk_tile_column_sum(__local float* partial, float value, int lane) {
        int r0 = lane / LK_TILE_COLS;
        partial[lane] = value;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int s = LK_TILE_ROWS / 2; s > 0; s >>= 1) {
            if (r0 < s) partial[lane] += partial[lane + s * LK_TILE_COLS];
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        float total = partial[lane % LK_TILE_COLS];
        barrier(CLK_LOCAL_MEM_FENCE);
        return total;
    }

    /* The sum of `value` over the work-group (LK_WG work-items), returned to all of them; every work-item must call it.
       `scratch` holds LK_WG floats. For kernels that give a work-group a row. */
    inline float lk_group_sum(__local float* scratch, float value, int t) {
        scratch[t] = value;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int w = LK_WG / 2; w > 0; w >>= 1) {
            if (t < w) scratch[t] += scratch[t + w];
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        float total = scratch[0];
        barrier(CLK_LOCAL_MEM_FENCE);
        return total;
    }

    /* The row maximum by a tree in local memory, and the row's sum of e^(x - m), for kernels that give a work-group a row
       (log-softmax, log-sum-exp, the multinomial likelihood). */
    inline float lk_row_max(__global const float* xr, int cols, int t, __local float* scratch) {
        float m = -INFINITY;
        for (int j = t; j < cols; j += LK_WG) m = lk_max(m, xr[j]);
        scratch[t] = m;
        for (int s = LK_WG / 2; s > 0; s >>= 1) {
            barrier(CLK_LOCAL_MEM_FENCE);
            if (t < s) scratch[t] = lk_max(scratch[t], scratch[t + s]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        float r = scratch[0];
        barrier(CLK_LOCAL_MEM_FENCE);
        return r;
    }

    inline float lk_row_sum_exp(__global const float* xr, int cols, float m, int t, __local float* scratch) {
        float s = 0.0f;
        for (int j = t; j < cols; j += LK_WG) s += exp(xr[j] - m);
        return lk_group_sum(scratch, s, t);
    }

    /* A row's total from each work-item's part: a lone work-item (step 1) already holds it; a work-group adds its items'
       parts (every item of the group must call it, so calls sit outside item-dependent branches). */
    inline float lk_row_total(__local float* scratch, float part, int t, int step) { return step == 1 ? part : lk_group_sum(scratch, part, t); }

    #define LK_UNPACK(...) __VA_ARGS__
    /* The two forms of a row kernel from one row function name_row(r, t, step, scratch, ...): name_f32 with one work-item
       per row (t = 0, step = 1: plain loops, in the CPU twin's order) and name_rows_f32 with a work-group per row (t = local
       id, step = LK_WG: the row's loops split across the group, sums reduced in local memory), for a GPU, long rows or
       small batches. `params` are the kernels' parameters (with `const int rows`), `args` the row function's arguments
       after (r, t, step, scratch). */
    #define LK_ROW_KERNELS(name, params, args) LK_ROW_KERNEL(name, params, args) LK_ROWS_KERNEL(name##_rows, name, params, args, )

    /* The per-row kernel name_f32, and a work-group-per-row kernel kernel_f32 of name_row; `prelude` opens an inner block
       of the latter (a declaration that shadows a parameter with a constant, or nothing: C forbids redeclaring a parameter
       in the function's own block, and local arrays stay at kernel scope). */
    #define LK_ROW_KERNEL(name, params, args) \
        __kernel void name##_f32 params { \
            int r = get_global_id(0); \
            if (r >= rows) return; \
            name##_row(r, 0, 1, (__local float*)0, LK_UNPACK args); \
        }
    #define LK_ROWS_KERNEL(kernel, name, params, args, prelude) \
        __kernel void kernel##_f32 params { \
            __local float scratch[LK_WG]; \
            { \
                prelude \
                name##_row(get_group_id(0), get_local_id(0), LK_WG, scratch, LK_UNPACK args); \
            } \
        }


    /* (k + 1/2) 2^-23 for the top 23 bits k: exact in float, strictly inside (0, 1). */
    inline float lk_uniform(uint w) { return (float)(w >> 9) * 0x1p-23f + 0x1p-24f; }
    """#
}
