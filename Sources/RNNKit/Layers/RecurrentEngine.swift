import RealModule

// The sequence engine: one layer, one direction, a whole (T, B, F) batch per call.
//
// Shape letters: T steps, B batch, F input features of this layer, H hidden units, g gates
// (1 simple RNN, 4 LSTM in order i f g o, 3 GRU in order r z n), gH = g·H.
// Inside the engine everything is time-major, so step t of the batch is one contiguous (B, ·) block.
//
// Forward (LSTM, simple RNN): per step one product [x_t, h]·[W_ih, W_hh]ᵀ onto the biases, with the
// weights packed once per call (RepeatedOperand), and one fused pass of gate arithmetic. The GRU
// computes X·W_ihᵀ for all steps first and h·W_hhᵀ apart per step (its n gate takes it through r).
// Backward walks the same steps in reverse, one product dG·W_hh per step, and computes the weight
// gradients with products over the whole sequence (for LSTM and simple RNN one, dGᵀ·[X, H, 1], on
// the rows the forward pass kept). No allocation happens inside the time loop.
//
// Variable lengths (TF dynamic_rnn): sample b is active at step t iff t < lengths[b], in both
// directions. Inactive steps output zero and leave the state alone, so the forward direction ends
// on the state after the last valid step and the reverse direction starts on the valid prefix.

/// The four parameters of one layer and direction, PyTorch's layout.
struct CellWeights<Scalar: TensorScalar> {
    var wih: Tensor<Scalar>  // (gH, F)
    var whh: Tensor<Scalar>  // (gH, H)
    var bih: Tensor<Scalar>  // (gH)
    var bhh: Tensor<Scalar>  // (gH)
}

/// What the forward pass of one direction keeps for its backward pass.
struct DirectionTrace<Scalar: TensorScalar> {
    var gates: Tensor<Scalar>        // (T, B, gH) gate activations (simple RNN: h itself)
    var stepInputs: Tensor<Scalar>?  // (T, B, F + H + 1) [x_t, h before step t, 1], LSTM and simple RNN
    var hPrev: Tensor<Scalar>?       // (T, B, H) state before step t, GRU
    var cPrev: Tensor<Scalar>?       // (T, B, H) LSTM cell before step t
    var tanhC: Tensor<Scalar>?       // (T, B, H) LSTM tanh(c) after step t
    var hiddenN: Tensor<Scalar>?     // (T, B, H) GRU W_hn·h + b_hn at step t
}

struct DirectionResult<Scalar: TensorScalar> {
    var output: Tensor<Scalar>       // (T, B, H), zero at inactive steps
    var h: [Scalar]                  // (B, H) final state
    var c: [Scalar]?                 // (B, H) final LSTM cell
    var trace: DirectionTrace<Scalar>?
}

struct DirectionGradients<Scalar: TensorScalar> {
    var dx: Tensor<Scalar>?          // (T, B, F); nil when not asked for
    var weights: CellWeights<Scalar> // gradients in the weights' layout
    var dh0: [Scalar]                // (B, H)
    var dc0: [Scalar]?               // (B, H)
}

/// Calls `body` with the tensor's element pointer, or with nil when there is no tensor.
@inline(__always)
func withOptionalBuffer<S: TensorScalar, R>(_ tensor: Tensor<S>?, _ body: (UnsafePointer<S>?) -> R) -> R {
    guard let tensor else { return body(nil) }
    return tensor.withUnsafeBufferPointer { body($0.baseAddress) }
}

@inline(__always) private func sigmoid<S: TensorScalar>(_ x: S) -> S { 1 / (1 + S.exp(-x)) }

enum RecurrentEngine<Scalar: TensorScalar> {

    // MARK: forward

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func forward(
        cell: RecurrentCell, forgetBias: Scalar, reverse: Bool,
        input x: Tensor<Scalar>,          // (T, B, F)
        weights w: CellWeights<Scalar>,
        h0: [Scalar], c0: [Scalar]?,      // (B, H)
        lengths: [Int],                   // (B)
        record: Bool,
        threads: Int = parallelChunkLimit  // cores this call may use
    ) -> DirectionResult<Scalar> {
        let (T, B, F) = (x.shape[0], x.shape[1], x.shape[2])
        let gH = w.whh.shape[0], H = w.whh.shape[1]
        let isGRU = cell == .gru, isLSTM = cell == .lstm

        // LSTM and simple RNN fuse the two products of a step into one, [x_t, h] · [W_ih, W_hh]ᵀ
        // (k = F + H), written straight onto the step's gates, instead of precomputing X·W_ihᵀ for every
        // step (a skinny product: k = F is 28 for the image rows, where BLAS ran at about half the
        // speed of the step kernel). Inference then needs only one step's gates, (B, gH), which stay in
        // cache; training keeps all of them, (T, B, gH), for the backward pass. Measured faster or as
        // fast on every benchmark shape. The GRU precomputes: its n gate needs W_hn·h apart.
        let fused = !isGRU
        let FH = F + H
        // Gates: b_ih + b_hh + the products (the GRU's b_hn sits inside r ⊙ (·), so it gets b_ih only).
        let gatesPerStep = record || !fused  // one (B, gH) block per step, else one block reused
        // Every buffer below is written in full, step by step, before it is read.
        var gates = Tensor<Scalar>(unfilled: gatesPerStep ? [T, B, gH] : [B, gH])
        var fusedInput = [Scalar](repeating: 0, count: fused && !record ? B * FH : 0)  // (B, F + H) [x_t, h] of a step
        var fusedWeights = [Scalar](repeating: 0, count: fused ? gH * FH : 0)  // (gH, F + H) [W_ih, W_hh]
        var biasSum = [Scalar](repeating: 0, count: gH)                          // b_ih + b_hh (+ forget bias)
        w.bih.withUnsafeBufferPointer { bih in
            w.bhh.withUnsafeBufferPointer { bhh in
                for j in 0..<gH { biasSum[j] = bih[j] + bhh[j] }
                if isLSTM { for j in H..<(2 * H) { biasSum[j] += forgetBias } }  // TF1's forget bias, with the others
            }
        }
        if fused {
            w.wih.withUnsafeBufferPointer { wih in
                w.whh.withUnsafeBufferPointer { whh in
                    fusedWeights.withUnsafeMutableBufferPointer { wc in
                        for r in 0..<gH {
                            (wc.baseAddress! + r * FH).update(from: wih.baseAddress! + r * F, count: F)
                            (wc.baseAddress! + r * FH + F).update(from: whh.baseAddress! + r * H, count: H)
                        }
                    }
                }
            }
        }
        var output = Tensor<Scalar>(unfilled: [T, B, H])
        // Training keeps each step's [x_t, h, 1] rows (fused cells) or h (GRU) for the weight gradients.
        let XW = FH + 1
        var stepInputs = Tensor<Scalar>(unfilled: record && fused ? [T, B, XW] : [0])
        var hPrev = Tensor<Scalar>(unfilled: record && !fused ? [T, B, H] : [0])
        var cPrev = Tensor<Scalar>(unfilled: record && isLSTM ? [T, B, H] : [0])
        var side = Tensor<Scalar>(unfilled: record && (isLSTM || isGRU) ? [T, B, H] : [0])  // tanh(c) or W_hn·h + b_hn
        var h = h0, c = c0 ?? []
        var hw = [Scalar](repeating: 0, count: B * gH)  // (B, gH) recurrent product of one step
        var scratchBuffer = [Scalar](repeating: 0, count: parallelChunkLimit * H)  // tanh(c) of one sample per chunk when not recording

        if !fused { gates.withUnsafeMutableBufferPointer { g in
            x.withUnsafeBufferPointer { x in
                w.wih.withUnsafeBufferPointer { wih in
                    w.bih.withUnsafeBufferPointer { bih in
                        // G (T·B, gH) = b_ih + X · W_ihᵀ, rows split across the cores.
                        let inputWeights = RepeatedOperand(wih.baseAddress!, ldb: F, transposed: true, k: F, n: gH,
                                                           uses: T, threads: threads)
                        parallelRows(T * B, threads: threads) { rows, _ in
                            inputWeights.accumulate(m: rows.count, x.baseAddress! + rows.lowerBound * F, lda: F,
                                                    into: g.baseAddress! + rows.lowerBound * gH, ldc: gH, base: bih.baseAddress!)
                        }
                    }
                }
            }
        } }

        gates.withUnsafeMutableBufferPointer { gBuf in
        output.withUnsafeMutableBufferPointer { yBuf in
        hPrev.withUnsafeMutableBufferPointer { hpBuf in
        stepInputs.withUnsafeMutableBufferPointer { siBuf in
        cPrev.withUnsafeMutableBufferPointer { cpBuf in
        side.withUnsafeMutableBufferPointer { sBuf in
        h.withUnsafeMutableBufferPointer { hBuf in
        c.withUnsafeMutableBufferPointer { cBuf in
        hw.withUnsafeMutableBufferPointer { hwBuf in
        scratchBuffer.withUnsafeMutableBufferPointer { scratchBuf in
        w.whh.withUnsafeBufferPointer { whh in
        w.bhh.withUnsafeBufferPointer { bhh in
        x.withUnsafeBufferPointer { xBuf in
        fusedInput.withUnsafeMutableBufferPointer { xhBuf in
        fusedWeights.withUnsafeBufferPointer { wcBuf in
        biasSum.withUnsafeBufferPointer { biasBuf in
            let h = hBuf.baseAddress!, hw = hwBuf.baseAddress!
            // The step product's right operand, packed once for all T steps and both chunks.
            let stepWeights = fused
                ? RepeatedOperand(wcBuf.baseAddress!, ldb: FH, transposed: true, k: FH, n: gH, uses: T, threads: threads)
                : RepeatedOperand(whh.baseAddress!, ldb: H, transposed: true, k: H, n: gH, uses: T, threads: threads)
            // Each chunk of samples runs the whole time loop on its own core.
            parallelRows(B, threads: threads) { rows, chunk in
            let scratch = scratchBuf.baseAddress! + chunk * H
            let (b0, n) = (rows.lowerBound, rows.count)
            for s in 0..<T {
                let t = reverse ? T - 1 - s : s
                let gt = gBuf.baseAddress! + (gatesPerStep ? t * B * gH : 0), yt = yBuf.baseAddress! + t * B * H
                if record {
                    if !fused { (hpBuf.baseAddress! + t * B * H + b0 * H).update(from: h + b0 * H, count: n * H) }
                    if isLSTM { (cpBuf.baseAddress! + t * B * H + b0 * H).update(from: cBuf.baseAddress! + b0 * H, count: n * H) }
                }
                // The step's product for this chunk's rows: onto the biases as the gates' pre-activations,
                // except for the GRU's h · W_hhᵀ, which its n gate needs apart (hw = h · W_hhᵀ + b_hh).
                if fused {
                    // gates (n, gH) = b + [x_t, h] · [W_ih, W_hh]ᵀ; the rows [x_t, h] are assembled in the
                    // trace when training (with a 1 after them, for the bias gradients), else in a scratch block.
                    let xt = xBuf.baseAddress! + t * B * F
                    let (xh, width) = record ? (siBuf.baseAddress! + t * B * XW, XW) : (xhBuf.baseAddress!, FH)
                    for b in rows {
                        (xh + b * width).update(from: xt + b * F, count: F)
                        (xh + b * width + F).update(from: h + b * H, count: H)
                        if record { xh[b * width + FH] = 1 }
                    }
                    stepWeights.accumulate(m: n, xh + b0 * width, lda: width, into: gt + b0 * gH, ldc: gH,
                                           base: biasBuf.baseAddress!)
                } else {
                    stepWeights.accumulate(m: n, h + b0 * H, lda: H, into: hw + b0 * gH, ldc: gH, base: bhh.baseAddress!)
                }
                let st = record && (isLSTM || isGRU) ? sBuf.baseAddress! + t * B * H : nil
                for b in rows {
                    let gb = gt + b * gH, hwb = hw + b * gH, hb = h + b * H, yb = yt + b * H
                    guard t < lengths[b] else {  // past this sample's end: zero output, state kept
                        yb.initialize(repeating: 0, count: H)
                        if let st { (st + b * H).initialize(repeating: 0, count: H) }
                        continue
                    }
                    // Pre-activations, then whole-block activations (vectorised for Float), then the state update.
                    switch cell {
                    case .lstm:
                        let cb = cBuf.baseAddress! + b * H
                        Scalar.sigmoid(gb, count: 2 * H)         // i, f
                        Scalar.tanh(gb + 2 * H, count: H)        // g
                        Scalar.sigmoid(gb + 3 * H, count: H)     // o
                        let tc = st.map { $0 + b * H } ?? scratch
                        for j in 0..<H {
                            let cNew = gb[H + j] * cb[j] + gb[j] * gb[2 * H + j]
                            cb[j] = cNew
                            tc[j] = cNew
                        }
                        Scalar.tanh(tc, count: H)
                        for j in 0..<H {
                            let v = gb[3 * H + j] * tc[j]
                            hb[j] = v
                            yb[j] = v
                        }
                    case .gru:
                        for j in 0..<(2 * H) { gb[j] += hwb[j] }
                        Scalar.sigmoid(gb, count: 2 * H)         // r, z
                        let hn = hwb + 2 * H
                        for j in 0..<H { gb[2 * H + j] += gb[j] * hn[j] }
                        if let st { (st + b * H).update(from: hn, count: H) }
                        Scalar.tanh(gb + 2 * H, count: H)        // n
                        for j in 0..<H {
                            let z = gb[H + j]
                            let hNew = (1 - z) * gb[2 * H + j] + z * hb[j]
                            hb[j] = hNew
                            yb[j] = hNew
                        }
                    case .rnnTanh:
                        Scalar.tanh(gb, count: H)
                        hb.update(from: gb, count: H)
                        yb.update(from: gb, count: H)
                    case .rnnRelu:
                        for j in 0..<H {
                            let v = max(0, gb[j])
                            hb[j] = v; yb[j] = v; gb[j] = v
                        }
                    }
                }
            }
            }
        }}}}}}}}}}}}}}}}

        let trace = record
            ? DirectionTrace(gates: gates, stepInputs: fused ? stepInputs : nil, hPrev: fused ? nil : hPrev,
                             cPrev: isLSTM ? cPrev : nil,
                             tanhC: isLSTM ? side : nil, hiddenN: isGRU ? side : nil)
            : nil
        return DirectionResult(output: output, h: h, c: isLSTM ? c : nil, trace: trace)
    }

    // MARK: backward

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func backward(
        cell: RecurrentCell, reverse: Bool,
        input x: Tensor<Scalar>,          // (T, B, F)
        weights w: CellWeights<Scalar>,
        lengths: [Int],
        trace: DirectionTrace<Scalar>,
        dOutput: Tensor<Scalar>?,         // (T, B, H)
        dhFinal: [Scalar]?, dcFinal: [Scalar]?,  // (B, H)
        inputGradient: Bool = true,       // false: the input is data, skip dX = dG_ih · W_ih
        threads: Int = parallelChunkLimit  // cores this call may use
    ) -> DirectionGradients<Scalar> {
        let (T, B, F) = (x.shape[0], x.shape[1], x.shape[2])
        let gH = w.whh.shape[0], H = w.whh.shape[1]
        let isGRU = cell == .gru, isLSTM = cell == .lstm

        // Gradients of the pre-activations, for all steps: (T, B, gH). They differ between the
        // input and recurrent products only for the GRU's n gate (r ⊙ (W_hn·h + b_hn)).
        // Written in full step by step (zero rows past a sample's end).
        var dGih = Tensor<Scalar>(unfilled: [T, B, gH])
        var dGhhStorage = Tensor<Scalar>(unfilled: isGRU ? [T, B, gH] : [0])
        var dh = dhFinal ?? [Scalar](repeating: 0, count: B * H)
        var dc = isLSTM ? (dcFinal ?? [Scalar](repeating: 0, count: B * H)) : []
        let noOutputGradient = [Scalar](repeating: 0, count: dOutput == nil ? H : 0)  // stands in for dY: no optional in the loops

        dGih.withUnsafeMutableBufferPointer { dgiBuf in
        dGhhStorage.withUnsafeMutableBufferPointer { dghBuf in
        dh.withUnsafeMutableBufferPointer { dhBuf in
        dc.withUnsafeMutableBufferPointer { dcBuf in
        trace.gates.withUnsafeBufferPointer { gBuf in
        withOptionalBuffer(trace.hPrev) { hPrev in
        withOptionalBuffer(trace.cPrev) { cPrev in
        withOptionalBuffer(trace.tanhC) { tanhC in
        withOptionalBuffer(trace.hiddenN) { hiddenN in
        withOptionalBuffer(dOutput) { dY in
        noOutputGradient.withUnsafeBufferPointer { noDY in
        w.whh.withUnsafeBufferPointer { whh in
            let dh = dhBuf.baseAddress!
            let dGhhBase = isGRU ? dghBuf.baseAddress! : dgiBuf.baseAddress!
            let stepWeights = RepeatedOperand(whh.baseAddress!, ldb: H, transposed: false, k: gH, n: H, uses: T, threads: threads)
            parallelRows(B, threads: threads) { rows, _ in
            let (b0, n) = (rows.lowerBound, rows.count)
            for s in 0..<T {
                let t = reverse ? s : T - 1 - s
                let off = t * B * H
                let gt = gBuf.baseAddress! + t * B * gH
                let dgi = dgiBuf.baseAddress! + t * B * gH, dgh = dGhhBase + t * B * gH
                for b in rows {
                    let gb = gt + b * gH, dgib = dgi + b * gH, dghb = dgh + b * gH
                    guard t < lengths[b] else {  // no gradient flows through steps past the end
                        dgib.initialize(repeating: 0, count: gH)
                        if isGRU { dghb.initialize(repeating: 0, count: gH) }
                        continue
                    }
                    let dhb = dh + b * H, dyb = dY.map { $0 + off + b * H } ?? noDY.baseAddress!
                    switch cell {
                    case .lstm:
                        let cpb = cPrev! + off + b * H, tcb = tanhC! + off + b * H
                        let dcb = dcBuf.baseAddress! + b * H
                        for j in 0..<H {
                            let i = gb[j], f = gb[H + j], gg = gb[2 * H + j], o = gb[3 * H + j], tc = tcb[j]
                            let dht = dhb[j] + dyb[j]
                            let dct = dcb[j] + dht * o * (1 - tc * tc)
                            dgib[j] = dct * gg * i * (1 - i)
                            dgib[H + j] = dct * cpb[j] * f * (1 - f)
                            dgib[2 * H + j] = dct * i * (1 - gg * gg)
                            dgib[3 * H + j] = dht * tc * o * (1 - o)
                            dcb[j] = dct * f
                            dhb[j] = 0
                        }
                    case .gru:
                        let hpb = hPrev! + off + b * H
                        let hnb = hiddenN! + off + b * H
                        for j in 0..<H {
                            let r = gb[j], z = gb[H + j], n = gb[2 * H + j]
                            let dht = dhb[j] + dyb[j]
                            let dnPre = dht * (1 - z) * (1 - n * n)
                            let drPre = dnPre * hnb[j] * r * (1 - r)
                            let dzPre = dht * (hpb[j] - n) * z * (1 - z)
                            dgib[j] = drPre; dghb[j] = drPre
                            dgib[H + j] = dzPre; dghb[H + j] = dzPre
                            dgib[2 * H + j] = dnPre; dghb[2 * H + j] = dnPre * r
                            dhb[j] = dht * z
                        }
                    case .rnnTanh, .rnnRelu:
                        for j in 0..<H {
                            let v = gb[j]
                            let dht = dhb[j] + dyb[j]
                            let slope: Scalar = cell == .rnnTanh ? 1 - v * v : (v > 0 ? 1 : 0)
                            dgib[j] = dht * slope
                            dhb[j] = 0
                        }
                    }
                }
                // dh (n, H) += dG_hh[t] (n, gH) · W_hh (gH, H) for this chunk's rows; inactive rows have zero dG
                // and pass dh through.
                stepWeights.accumulate(m: n, dgh + b0 * gH, lda: gH, into: dh + b0 * H, ldc: H)
            }
            }
        }}}}}}}}}}}}

        // Weight gradients, products over all T·B rows.
        var grads = CellWeights(wih: Tensor<Scalar>(zeros: w.wih.shape), whh: Tensor<Scalar>(zeros: w.whh.shape),
                                bih: Tensor<Scalar>(zeros: [gH]), bhh: Tensor<Scalar>(zeros: [gH]))
        var dx = Tensor<Scalar>(unfilled: inputGradient ? [T, B, F] : [0])
        if inputGradient {
            dGih.withUnsafeBufferPointer { dgi in
                w.wih.withUnsafeBufferPointer { wih in
                    dx.withUnsafeMutableBufferPointer { dxb in          // dX (TB, F) = dG_ih · W_ih
                        Scalar.parallelGemm(transposeA: false, transposeB: false, m: T * B, n: F, k: gH,
                                    alpha: 1, a: dgi.baseAddress!, lda: gH, b: wih.baseAddress!, ldb: F,
                                    beta: 0, c: dxb.baseAddress!, ldc: F, threads: threads)
                    }
                }
            }
        }
        if let stepInputs = trace.stepInputs {
            // LSTM and simple RNN: dG_ih = dG_hh, so one product gives every weight gradient:
            // [dW_ih, dW_hh, db] (gH, F + H + 1) = dGᵀ · [X, H_prev, 1], its rows split across the cores.
            let XW = F + H + 1
            // (BLAS measured faster here than packing [X, H_prev, 1] for the step kernel, which it is used
            // in only once.)
            var combined = Tensor<Scalar>(unfilled: [gH, XW])
            dGih.withUnsafeBufferPointer { dg in
                stepInputs.withUnsafeBufferPointer { si in
                    combined.withUnsafeMutableBufferPointer { cb in
                        Scalar.parallelGemm(transposeA: true, transposeB: false, m: gH, n: XW, k: T * B,
                                            alpha: 1, a: dg.baseAddress!, lda: gH, b: si.baseAddress!, ldb: XW,
                                            beta: 0, c: cb.baseAddress!, ldc: XW, threads: threads)
                    }
                }
            }
            combined.withUnsafeBufferPointer { cb in
                grads.wih.withUnsafeMutableBufferPointer { dwi in
                grads.whh.withUnsafeMutableBufferPointer { dwh in
                grads.bih.withUnsafeMutableBufferPointer { dbi in
                grads.bhh.withUnsafeMutableBufferPointer { dbh in
                    for r in 0..<gH {
                        let row = cb.baseAddress! + r * XW
                        (dwi.baseAddress! + r * F).update(from: row, count: F)
                        (dwh.baseAddress! + r * H).update(from: row + F, count: H)
                        dbi[r] = row[F + H]
                        dbh[r] = row[F + H]
                    }
                }}}}
            }
            return DirectionGradients(dx: inputGradient ? dx : nil, weights: grads, dh0: dh, dc0: isLSTM ? dc : nil)
        }
        // GRU: the recurrent products see r ⊙ (·) in the n gate, so dG_hh differs from dG_ih.
        dGih.withUnsafeBufferPointer { dgi in
            x.withUnsafeBufferPointer { xb in
                grads.wih.withUnsafeMutableBufferPointer { dw in   // dW_ih (gH, F) = dG_ihᵀ · X
                    Scalar.parallelGemm(transposeA: true, transposeB: false, m: gH, n: F, k: T * B,
                                alpha: 1, a: dgi.baseAddress!, lda: gH, b: xb.baseAddress!, ldb: F,
                                beta: 0, c: dw.baseAddress!, ldc: F, threads: threads)
                }
            }
            grads.bih.withUnsafeMutableBufferPointer { db in
                addColumnSums(dgi.baseAddress!, rows: T * B, columns: gH, into: db.baseAddress!, threads: threads)
            }
        }
        dGhhStorage.withUnsafeBufferPointer { dgh in
            trace.hPrev!.withUnsafeBufferPointer { hp in
                grads.whh.withUnsafeMutableBufferPointer { dw in   // dW_hh (gH, H) = dG_hhᵀ · H_prev
                    Scalar.parallelGemm(transposeA: true, transposeB: false, m: gH, n: H, k: T * B,
                                alpha: 1, a: dgh.baseAddress!, lda: gH, b: hp.baseAddress!, ldb: H,
                                beta: 0, c: dw.baseAddress!, ldc: H, threads: threads)
                }
            }
            grads.bhh.withUnsafeMutableBufferPointer { db in
                addColumnSums(dgh.baseAddress!, rows: T * B, columns: gH, into: db.baseAddress!, threads: threads)
            }
        }
        return DirectionGradients(dx: inputGradient ? dx : nil, weights: grads, dh0: dh, dc0: isLSTM ? dc : nil)
    }
}
