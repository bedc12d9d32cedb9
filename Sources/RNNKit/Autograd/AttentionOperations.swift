// The operations an attention decoder composes, step by step: tanh, joining along the last axis,
// stacking steps into a sequence, and the pieces of Bahdanau's and Luong's attention over a
// batch of encoder outputs with padding masked. Each records one node; forward above backward.

extension Variable {
    /// Element-wise tanh (the vectorised kernels of the recurrent cells).
    public func tanh() -> Variable {
        var y = value
        y.withUnsafeMutableBufferPointer { Scalar.tanh($0.baseAddress!, count: $0.count) }
        return TapeNode.record(inputs: [self], outputs: [y]) { grads in
            guard var d = grads[0] else { return [nil] }
            d.withUnsafeMutableBufferPointer { d in
                y.withUnsafeBufferPointer { y in for i in 0..<d.count { d[i] *= 1 - y[i] * y[i] } }
            }
            return [d]
        }[0]
    }

    /// `parts` side by side along the last axis: `(..., X)`, `(..., Y)` → `(..., X + Y)` (input
    /// feeding's `[embedding; previous attentional vector]`, Luong's `[context; state]`).
    /// - Throws: `RNNKitError.shapeMismatch` when the leading dimensions differ.
    public static func concatenating(_ parts: [Variable]) throws(RNNKitError) -> Variable {
        guard let first = parts.first else {
            throw .invalidValue(argument: "parts", expected: "at least one tensor", found: "none", hint: "Pass the tensors to join.")
        }
        let lead = Array(first.shape.dropLast())
        for p in parts where Array(p.shape.dropLast()) != lead || p.shape.isEmpty {
            throw .shapeMismatch(argument: "parts", expected: shapeString(lead + [-1]), found: p.shape,
                                 hint: "Every part needs the same leading dimensions.")
        }
        let widths = parts.map { $0.shape.last! }, total = widths.reduce(0, +), rows = lead.reduce(1, *)
        var out = [Scalar](repeating: 0, count: rows * total)
        var offset = 0
        for (p, w) in zip(parts, widths) {
            let s = p.value.scalars
            for r in 0..<rows { for j in 0..<w { out[r * total + offset + j] = s[r * w + j] } }
            offset += w
        }
        return TapeNode.record(inputs: parts, outputs: [Tensor(validShape: lead + [total], scalars: out)]) { grads in
            guard let g = grads[0]?.scalars else { return parts.map { _ in nil } }
            var offset = 0
            return zip(parts, widths).map { p, w in
                defer { offset += w }
                var d = [Scalar](repeating: 0, count: rows * w)
                for r in 0..<rows { for j in 0..<w { d[r * w + j] = g[r * total + offset + j] } }
                return Tensor(validShape: p.shape, scalars: d)
            }
        }[0]
    }

    /// Steps `(B, F)` stacked into a batch-first sequence `(B, T, F)`.
    /// - Throws: `RNNKitError.shapeMismatch` when the steps differ in shape or are not 2-D.
    public static func stackingSteps(_ steps: [Variable]) throws(RNNKitError) -> Variable {
        guard let first = steps.first, first.shape.count == 2 else {
            throw .shapeMismatch(argument: "steps", expected: "at least one (B, F) step", found: steps.first?.shape ?? [],
                                 hint: "Pass each step's (B, F) output.")
        }
        for s in steps where s.shape != first.shape {
            throw .shapeMismatch(argument: "steps", expected: shapeString(first.shape), found: s.shape, hint: "Every step needs the same shape.")
        }
        let (B, F, T) = (first.shape[0], first.shape[1], steps.count)
        var out = [Scalar](repeating: 0, count: B * T * F)
        for (t, s) in steps.enumerated() {
            let v = s.value.scalars
            for b in 0..<B { for f in 0..<F { out[(b * T + t) * F + f] = v[b * F + f] } }
        }
        return TapeNode.record(inputs: steps, outputs: [Tensor(validShape: [B, T, F], scalars: out)]) { grads in
            guard let g = grads[0]?.scalars else { return steps.map { _ in nil } }
            return (0..<T).map { t in
                var d = [Scalar](repeating: 0, count: B * F)
                for b in 0..<B { for f in 0..<F { d[b * F + f] = g[(b * T + t) * F + f] } }
                return Tensor(validShape: [B, F], scalars: d)
            }
        }[0]
    }
}

/// Attention over a batch of encoder outputs `memory (B, S, K)`: scores for each source step, a
/// softmax that ignores padding, and the context vector. Luong's `general` score is
/// `dotScores(memory, query: Wq)` (`Wq` from a `Dense` without bias); Bahdanau's additive score is
/// `additiveScores(keys: memory·W₁ᵀ, query: W₂q, v:)`.
public enum Attention {
    static func checkMemory(_ shape: [Int], _ argument: String) throws(RNNKitError) {
        guard shape.count == 3, shape.allSatisfy({ $0 > 0 }) else {
            throw .shapeMismatch(argument: argument, expected: "(B, S, K)", found: shape, hint: "Pass the encoder's batch-first outputs.")
        }
    }

    static func checkQuery(_ query: [Int], batch: Int, width: Int) throws(RNNKitError) {
        guard query == [batch, width] else {
            throw .shapeMismatch(argument: "query", expected: shapeString([batch, width]), found: query,
                                 hint: "One query per sample, as wide as the memory's last axis.")
        }
    }

    /// `out[b, s] = Σ_k x[b, s, k] · y[b, k]` for `x (B, T, K)`, `y (B, K)`: one matrix–vector product per sample.
    static func rowProducts<S: TensorScalar>(_ x: UnsafeBufferPointer<S>, _ y: UnsafeBufferPointer<S>, into out: UnsafeMutableBufferPointer<S>,
                                             batch B: Int, steps T: Int, width K: Int) {
        for b in 0..<B {
            S.gemm(transposeA: false, transposeB: false, m: T, n: 1, k: K, alpha: 1, a: x.baseAddress! + b * T * K, lda: K,
                   b: y.baseAddress! + b * K, ldb: 1, beta: 0, c: out.baseAddress! + b * T, ldc: 1)
        }
    }

    /// `out[b, s, k] = u[b, s] · y[b, k]` (an outer product per sample) and, with `sum`,
    /// `sum[b, k] += Σ_s u[b, s] · x[b, s, k]`.
    static func outerProducts<S: TensorScalar>(_ u: UnsafeBufferPointer<S>, _ y: UnsafeBufferPointer<S>, into out: UnsafeMutableBufferPointer<S>,
                                               batch B: Int, steps T: Int, width K: Int) {
        for b in 0..<B {
            for s in 0..<T {
                let w = u[b * T + s], o = out.baseAddress! + (b * T + s) * K, q = y.baseAddress! + b * K
                for k in 0..<K { o[k] = w * q[k] }
            }
        }
    }

    /// `out[b, k] = Σ_s u[b, s] · x[b, s, k]` (weights times rows, per sample).
    static func weightedSums<S: TensorScalar>(_ u: UnsafeBufferPointer<S>, _ x: UnsafeBufferPointer<S>, into out: UnsafeMutableBufferPointer<S>,
                                              batch B: Int, steps T: Int, width K: Int) {
        for b in 0..<B {
            let o = out.baseAddress! + b * K
            for s in 0..<T {
                let w = u[b * T + s]
                guard w != 0 else { continue }
                let r = x.baseAddress! + (b * T + s) * K
                for k in 0..<K { o[k] += w * r[k] }
            }
        }
    }

    /// `e[b, s] = Σ_k memory[b, s, k] · query[b, k]`: `(B, S, K)`, `(B, K)` → `(B, S)`.
    public static func dotScores<S: TensorScalar>(memory: Variable<S>, query: Variable<S>) throws(RNNKitError) -> Variable<S> {
        try checkMemory(memory.shape, "memory")
        let (B, T, K) = (memory.shape[0], memory.shape[1], memory.shape[2])
        try checkQuery(query.shape, batch: B, width: K)
        let m = memory.value, q = query.value
        var e = Tensor<S>(zeros: [B, T])
        m.withUnsafeBufferPointer { m in q.withUnsafeBufferPointer { q in
            e.withUnsafeMutableBufferPointer { rowProducts(m, q, into: $0, batch: B, steps: T, width: K) }
        } }
        return TapeNode.record(inputs: [memory, query], outputs: [e]) { grads in
            guard let g = grads[0] else { return [nil, nil] }
            var dm = Tensor<S>(zeros: [B, T, K]), dq = Tensor<S>(zeros: [B, K])
            g.withUnsafeBufferPointer { g in m.withUnsafeBufferPointer { m in q.withUnsafeBufferPointer { q in
                dm.withUnsafeMutableBufferPointer { outerProducts(g, q, into: $0, batch: B, steps: T, width: K) }
                dq.withUnsafeMutableBufferPointer { weightedSums(g, m, into: $0, batch: B, steps: T, width: K) }
            } } }
            return [dm, dq]
        }[0]
    }

    /// `e[b, s] = Σ_a v[a] · tanh(keys[b, s, a] + query[b, a])`: `(B, S, A)`, `(B, A)`, `(A)` → `(B, S)`.
    public static func additiveScores<S: TensorScalar>(keys: Variable<S>, query: Variable<S>, v: Variable<S>) throws(RNNKitError) -> Variable<S> {
        try checkMemory(keys.shape, "keys")
        let (B, T, A) = (keys.shape[0], keys.shape[1], keys.shape[2])
        try checkQuery(query.shape, batch: B, width: A)
        guard v.shape == [A] else {
            throw .shapeMismatch(argument: "v", expected: "(\(A))", found: v.shape, hint: "v has one weight per unit of the keys.")
        }
        let kk = keys.value.scalars, q = query.value.scalars, w = v.value.scalars
        var t = [S](repeating: 0, count: B * T * A), e = [S](repeating: 0, count: B * T)
        for b in 0..<B {
            for s in 0..<T {
                var sum = S(0)
                for a in 0..<A {
                    let x = S.tanh(kk[(b * T + s) * A + a] + q[b * A + a])
                    t[(b * T + s) * A + a] = x
                    sum += w[a] * x
                }
                e[b * T + s] = sum
            }
        }
        return TapeNode.record(inputs: [keys, query, v], outputs: [Tensor(validShape: [B, T], scalars: e)]) { grads in
            guard let g = grads[0]?.scalars else { return [nil, nil, nil] }
            var dk = [S](repeating: 0, count: B * T * A), dq = [S](repeating: 0, count: B * A), dv = [S](repeating: 0, count: A)
            for b in 0..<B {
                for s in 0..<T {
                    let gs = g[b * T + s]
                    for a in 0..<A {
                        let x = t[(b * T + s) * A + a]
                        dv[a] += gs * x
                        let d = gs * w[a] * (1 - x * x)
                        dk[(b * T + s) * A + a] = d
                        dq[b * A + a] += d
                    }
                }
            }
            return [Tensor(validShape: [B, T, A], scalars: dk), Tensor(validShape: [B, A], scalars: dq), Tensor(validShape: [A], scalars: dv)]
        }[0]
    }

    /// Softmax of `scores (B, S)` over each sample's first `lengths[b]` steps (all `S` when nil);
    /// the weights past a sample's length are 0 and get no gradient.
    /// - Throws: `RNNKitError.invalidValue` for a length outside 1 ... S.
    public static func maskedSoftmax<S: TensorScalar>(_ scores: Variable<S>, lengths: [Int]?) throws(RNNKitError) -> Variable<S> {
        guard scores.shape.count == 2 else {
            throw .shapeMismatch(argument: "scores", expected: "(B, S)", found: scores.shape, hint: "One score per sample and source step.")
        }
        let (B, T) = (scores.shape[0], scores.shape[1])
        let valid = lengths ?? Array(repeating: T, count: B)
        guard valid.count == B else {
            throw .invalidValue(argument: "lengths", expected: "\(B) lengths, one per sample", found: "\(valid.count)",
                                hint: "Pass each source's length.")
        }
        if let bad = valid.firstIndex(where: { !(1...T).contains($0) }) {
            throw .invalidValue(argument: "lengths", expected: "lengths in 1...\(T)", found: "\(valid[bad]) for sample \(bad)",
                                hint: "A source has at least one step and at most the memory's.")
        }
        let e = scores.value.scalars
        var p = [S](repeating: 0, count: B * T)
        for b in 0..<B {
            let n = valid[b]
            let top = (0..<n).map { e[b * T + $0] }.max()!
            var total = S(0)
            for s in 0..<n { let x = S.exp(e[b * T + s] - top); p[b * T + s] = x; total += x }
            for s in 0..<n { p[b * T + s] /= total }
        }
        return TapeNode.record(inputs: [scores], outputs: [Tensor(validShape: [B, T], scalars: p)]) { grads in
            guard let g = grads[0]?.scalars else { return [nil] }
            var d = [S](repeating: 0, count: B * T)
            for b in 0..<B {
                var dot = S(0)
                for s in 0..<valid[b] { dot += p[b * T + s] * g[b * T + s] }
                for s in 0..<valid[b] { d[b * T + s] = p[b * T + s] * (g[b * T + s] - dot) }
            }
            return [Tensor(validShape: [B, T], scalars: d)]
        }[0]
    }

    /// The context `c[b, k] = Σ_s weights[b, s] · memory[b, s, k]`: `(B, S)`, `(B, S, K)` → `(B, K)`.
    public static func context<S: TensorScalar>(weights: Variable<S>, memory: Variable<S>) throws(RNNKitError) -> Variable<S> {
        try checkMemory(memory.shape, "memory")
        let (B, T, K) = (memory.shape[0], memory.shape[1], memory.shape[2])
        guard weights.shape == [B, T] else {
            throw .shapeMismatch(argument: "weights", expected: shapeString([B, T]), found: weights.shape, hint: "One weight per source step.")
        }
        let a = weights.value, m = memory.value
        var c = Tensor<S>(zeros: [B, K])
        a.withUnsafeBufferPointer { a in m.withUnsafeBufferPointer { m in
            c.withUnsafeMutableBufferPointer { weightedSums(a, m, into: $0, batch: B, steps: T, width: K) }
        } }
        return TapeNode.record(inputs: [weights, memory], outputs: [c]) { grads in
            guard let g = grads[0] else { return [nil, nil] }
            var da = Tensor<S>(zeros: [B, T]), dm = Tensor<S>(zeros: [B, T, K])
            g.withUnsafeBufferPointer { g in a.withUnsafeBufferPointer { a in m.withUnsafeBufferPointer { m in
                da.withUnsafeMutableBufferPointer { rowProducts(m, g, into: $0, batch: B, steps: T, width: K) }
                dm.withUnsafeMutableBufferPointer { outerProducts(a, g, into: $0, batch: B, steps: T, width: K) }
            } } }
            return [da, dm]
        }[0]
    }
}

extension Variable {
    /// The same values in another shape with as many entries (`(B, F)` → `(B, 1, F)`, say).
    /// - Throws: `RNNKitError.shapeMismatch` when the counts differ.
    public func reshaped(_ newShape: [Int]) throws(RNNKitError) -> Variable {
        guard newShape.reduce(1, *) == value.count, newShape.allSatisfy({ $0 > 0 }) else {
            throw .shapeMismatch(argument: "shape", expected: "\(value.count) entries", found: newShape, hint: "Keep the number of entries.")
        }
        let old = shape
        return TapeNode.record(inputs: [self], outputs: [Tensor(validShape: newShape, scalars: value.scalars)]) { grads in
            [grads[0].map { Tensor(validShape: old, scalars: $0.scalars) }]
        }[0]
    }

    /// `(B, L·H)` → `(L, B, H)`: a bridge's output as the initial state of an L-layer stack.
    /// - Throws: `RNNKitError.shapeMismatch` when the width is not a multiple of `layers`.
    public func splittingLayers(_ layers: Int) throws(RNNKitError) -> Variable {
        guard shape.count == 2, layers > 0, shape[1] % layers == 0 else {
            throw .shapeMismatch(argument: "state", expected: "(B, \(layers)·H)", found: shape, hint: "The bridge's width is layers × hidden size.")
        }
        let (B, H) = (shape[0], shape[1] / layers), L = layers
        let x = value.scalars
        var out = [Scalar](repeating: 0, count: L * B * H)
        for b in 0..<B { for l in 0..<L { for j in 0..<H { out[(l * B + b) * H + j] = x[b * L * H + l * H + j] } } }
        return TapeNode.record(inputs: [self], outputs: [Tensor(validShape: [L, B, H], scalars: out)]) { grads in
            guard let g = grads[0]?.scalars else { return [nil] }
            var d = [Scalar](repeating: 0, count: B * L * H)
            for b in 0..<B { for l in 0..<L { for j in 0..<H { d[b * L * H + l * H + j] = g[(l * B + b) * H + j] } } }
            return [Tensor(validShape: [B, L * H], scalars: d)]
        }[0]
    }
}
