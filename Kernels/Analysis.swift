// Kernels of the latent-space analysis: the k smallest elements of each row of a distance matrix, so that a
// k-nearest-neighbour search returns only k indices per query to the host. Twin of
// Sources/LatentCPU/CPUBackend+Analysis.swift.

extension KernelSources {
    public static let analysis = #"""
    /* Candidates each work-item keeps per pass. A k-NN search needs k <= 10, one pass; a larger k takes
       ceil(k / LK_TOPK) passes, each looking only after the last element the previous one emitted. */
    #define LK_TOPK 16

    /* The total order of smallestPerRow: numbers ascending, NaN after every number, ties by the lower column. */
    inline bool lk_precedes(float a, int ia, float b, int ib) {
        bool an = isnan(a), bn = isnan(b);
        if (an != bn) return bn;
        if (!an && a != b) return a < b;
        return ia < ib;
    }

    /* One work-group per row. Each work-item scans the columns t, t + LK_WG, ... keeping its best m in a sorted
       private list; then m rounds of a tree arg-min over the heads of the lists emit the row's next m elements
       (the winner pops its head: a column belongs to one work-item only, so the index names the winner). */
    __kernel void analysis_smallest_per_row_f32(__global const float* x, __global float* values, __global int* indices,
                                                const int rows, const int cols, const int k) {
        __local float sv[LK_WG];
        __local int si[LK_WG];
        int r = get_group_id(0), t = get_local_id(0);
        __global const float* xr = x + (long)r * cols;
        float lastV = 0.0f;
        int lastI = -1;  /* the last element emitted; -1 before the first */
        for (int done = 0; done < k;) {
            int m = min(LK_TOPK, k - done);
            float bv[LK_TOPK];
            int bi[LK_TOPK];
            int held = 0;
            for (int j = t; j < cols; j += LK_WG) {
                float v = xr[j];
                if (lastI >= 0 && !lk_precedes(lastV, lastI, v, j)) continue;
                if (held == m && !lk_precedes(v, j, bv[m - 1], bi[m - 1])) continue;
                int p = held < m ? held++ : m - 1;
                while (p > 0 && lk_precedes(v, j, bv[p - 1], bi[p - 1])) {
                    bv[p] = bv[p - 1];
                    bi[p] = bi[p - 1];
                    --p;
                }
                bv[p] = v;
                bi[p] = j;
            }
            int head = 0;
            for (int e = 0; e < m; ++e) {
                /* an exhausted list offers (NaN, INT_MAX), after every real element */
                sv[t] = head < held ? bv[head] : NAN;
                si[t] = head < held ? bi[head] : INT_MAX;
                for (int s = LK_WG / 2; s > 0; s >>= 1) {
                    barrier(CLK_LOCAL_MEM_FENCE);
                    if (t < s && lk_precedes(sv[t + s], si[t + s], sv[t], si[t])) {
                        sv[t] = sv[t + s];
                        si[t] = si[t + s];
                    }
                }
                barrier(CLK_LOCAL_MEM_FENCE);
                float wv = sv[0];
                int wi = si[0];
                if (head < held && bi[head] == wi) ++head;
                if (t == 0) {
                    values[(long)r * k + done + e] = wv;
                    indices[(long)r * k + done + e] = wi;
                }
                lastV = wv;
                lastI = wi;
                barrier(CLK_LOCAL_MEM_FENCE);  /* everyone has read sv[0] before the next round overwrites it */
            }
            done += m;
        }
    }
    """#
}
