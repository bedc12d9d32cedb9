import Foundation
@_spi(Testing) import RNNKit
import Testing

/// The packed step kernels (Sources/CKernels/wide.h), every build this CPU can run (AVX-512 where it
/// has it; AVX2, and the AVX-512 build's logic compiled for AVX2, where it has AVX2), against a
/// Double product, on shapes that hit every edge of their blocking: tiles of 1–14 rows, partial
/// 16-column panels and partial two-panel tiles, more than 96 rows (row blocks), more than 256 and
/// 512 of k (depth blocks, accumulated), row blocks of two tiles and more read from an interleaved
/// copy of A (tiles of 5–12 rows there) and smaller ones as stored, row strides wider than the rows, B both as stored and
/// transposed, B packed on two cores (300 columns), and C either accumulated or set from a base row
/// (`C = base + A·B`, the gates' biases), whose old values must then not count.
@Suite struct PackedProductTests {
    @Test(arguments: [(1, 1, 1), (6, 15, 1), (4, 16, 1), (5, 17, 3), (13, 33, 7), (20, 96, 24), (32, 64, 128),
                      (12, 32, 300), (14, 48, 257), (97, 40, 600), (200, 130, 520), (7, 16, 1100), (10, 300, 600),
                      (25, 20, 9), (40, 33, 70)])
    func matchesDoubleProduct(shape: (Int, Int, Int)) {
        for kernels in VectorKernels.runnable { check(shape, kernels) }
    }

    /// Without vector kernels (the portable path, or another CPU), the product goes to BLAS.
    @Test func portablePathUsesBLAS() {
        check((13, 33, 7), nil)
        check((97, 40, 600), nil)
    }

    func check(_ shape: (Int, Int, Int), _ kernels: VectorKernels?) {
        let (m, n, k) = shape
        for (transposed, withBase) in [(false, false), (true, false), (false, true), (true, true)] {
            var g = SeededGenerator(seed: UInt64(m * 1_000_003 + n * 1009 + k))
            let (lda, ldc) = (k + 3, n + 5)
            let ldb = transposed ? k + 2 : n + 1            // B stored (k, ldb), or (n, ldb) when transposed
            let bRows = transposed ? n : k
            let a = (0..<(m * lda)).map { _ in Float.random(in: -1...1, using: &g) }
            let b = (0..<(bRows * ldb)).map { _ in Float.random(in: -1...1, using: &g) }
            let c0 = (0..<(m * ldc)).map { _ in Float.random(in: -1...1, using: &g) }
            let base = (0..<n).map { _ in Float.random(in: -1...1, using: &g) }
            var c = c0
            let packed = c.withUnsafeMutableBufferPointer { cb in
                Float.repeatedProduct(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, transposed: transposed,
                                      c: cb.baseAddress!, ldc: ldc, base: withBase ? base : nil, kernels: kernels)
            }
            #expect(packed == (kernels != nil), "\(kernels.map(\.description) ?? "BLAS"): packed kernel used: \(packed)")
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<ldc {
                    guard j < n else {
                        #expect(c[i * ldc + j] == c0[i * ldc + j], "padding column \(j) of row \(i) was written")
                        continue
                    }
                    var sum = Double(withBase ? base[j] : c0[i * ldc + j]), magnitude = abs(sum)
                    for p in 0..<k {
                        let term = Double(a[i * lda + p]) * Double(transposed ? b[j * ldb + p] : b[p * ldb + j])
                        sum += term
                        magnitude += abs(term)
                    }
                    // Float rounding bound for a sum of k + 1 terms.
                    let error = abs(Double(c[i * ldc + j]) - sum)
                    worst = max(worst, error / magnitude)
                    #expect(error <= Double(k + 1) * 6e-8 * magnitude,
                            "\(kernels.map(\.description) ?? "BLAS"): C[\(i)][\(j)] = \(c[i * ldc + j]), want \(sum)")
                    if error > Double(k + 1) * 6e-8 * magnitude { return }
                }
            }
            #expect(worst < 1e-5)
        }
    }
}

/// What lets the engine share a batch's samples out among the cores at any step (StepPool): each row
/// of a packed product comes out the same, to the bit, whichever rows it is computed with.
@Suite struct PackedProductRowTests {
    @Test func rowsDoNotDependOnTheirNeighbours() {
        let (m, n, k) = (97, 130, 600)
        var g = SeededGenerator(seed: 17)
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &g) }
        let b = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &g) }
        let base = (0..<n).map { _ in Float.random(in: -1...1, using: &g) }
        for kernels in VectorKernels.runnable {
            var whole = [Float](repeating: 0, count: m * n), pieces = whole
            whole.withUnsafeMutableBufferPointer { c in
                _ = Float.repeatedProduct(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, transposed: true,
                                          c: c.baseAddress!, ldc: n, base: base, kernels: kernels)
            }
            for rows in [0..<5, 5..<6, 6..<40, 40..<71, 71..<97] {
                a.withUnsafeBufferPointer { a in
                    pieces.withUnsafeMutableBufferPointer { c in
                        _ = Float.repeatedProduct(m: rows.count, n: n, k: k, a: a.baseAddress! + rows.lowerBound * k, lda: k,
                                                  b: b, ldb: k, transposed: true, c: c.baseAddress! + rows.lowerBound * n,
                                                  ldc: n, base: base, kernels: kernels)
                    }
                }
            }
            let differing = (0..<(m * n)).filter { whole[$0].bitPattern != pieces[$0].bitPattern }
            #expect(differing.isEmpty, "\(kernels.description): \(differing.count) values differ, first at row \((differing.first ?? 0) / n)")
        }
    }
}

/// Whole LSTM inference steps (`rnnkit_lstm_step`, PackedLSTMStep), every build this CPU runs,
/// against the step computed in Double from the unpacked weights: tiles of 1–17 rows, hidden sizes
/// that end inside a 16-unit block (a last block of 1, 4, 8 or 12 units: narrower panels up to 8),
/// inputs of one feature, and row strides wider than the rows, whose
/// padding must stay as it was. And each row's result, to the bit, whichever rows it runs with (what
/// lets StepPool move samples between cores).
@Suite struct LSTMStepKernelTests {
    static let sentinel: Float = 12345

    @Test(arguments: [(1, 1, 1), (5, 3, 17), (8, 28, 16), (9, 7, 40), (17, 20, 33), (13, 1, 100), (3, 64, 64),
                      (7, 5, 4), (6, 9, 12), (10, 3, 24), (11, 6, 44)])
    func matchesDoubleStep(shape: (Int, Int, Int)) {
        let (m, F, H) = shape
        let (ldx, ldh, ldc, ldo, ldy) = (F + 2, H + 3, H + 1, H + 4, 2 * H + 5)
        var g = SeededGenerator(seed: UInt64(m * 10_007 + F * 101 + H))
        func uniform(_ count: Int, _ scale: Float) -> [Float] { (0..<count).map { _ in Float.random(in: -scale...scale, using: &g) } }
        let wih = uniform(4 * H * F, 0.5), whh = uniform(4 * H * H, 0.5), bias = uniform(4 * H, 1)
        let x = uniform(m * ldx, 1), h = uniform(m * ldh, 1), c0 = uniform(m * ldc, 2)
        for kernels in VectorKernels.runnable {
            let step = PackedLSTMStep(wih: wih, whh: whh, bias: bias, F: F, H: H, threads: 2, kernels: kernels)
            var c = c0
            var hOut = [Float](repeating: Self.sentinel, count: m * ldo), y = [Float](repeating: Self.sentinel, count: m * ldy)
            step.step(m: m, x: x, ldx: ldx, h: h, ldh: ldh, c: &c, ldc: ldc, hOut: &hOut, ldo: ldo, y: &y, ldy: ldy)
            // Training's form: from the rows [x, h, 1] as the trace keeps them, h written in place, the
            // activated gates and tanh(c) recorded. The same sums in the same order: the same bits.
            let XW = F + H + 1
            var rows = [Float](repeating: 1, count: m * XW)
            for r in 0..<m {
                for p in 0..<F { rows[r * XW + p] = x[r * ldx + p] }
                for p in 0..<H { rows[r * XW + F + p] = h[r * ldh + p] }
            }
            var cRecorded = c0, hRecorded = [Float](repeating: Self.sentinel, count: m * ldo)
            var gates = [Float](repeating: Self.sentinel, count: m * 4 * H), tanhC = [Float](repeating: Self.sentinel, count: m * H)
            var yRecorded = [Float](repeating: Self.sentinel, count: m * ldy)
            step.recordedStep(m: m, rows: rows, lda: XW, c: &cRecorded, ldc: ldc, hOut: &hRecorded, ldo: ldo, y: &yRecorded,
                              ldy: ldy, gates: &gates, tanhC: &tanhC)
            #expect(cRecorded == c && hRecorded == hOut && yRecorded == y, "\(kernels) \(shape): recorded step differs")
            for r in 0..<m {
                for u in 0..<H {
                    func gate(_ k: Int) -> Double {
                        var sum = Double(bias[k * H + u])
                        for p in 0..<F { sum += Double(x[r * ldx + p]) * Double(wih[(k * H + u) * F + p]) }
                        for p in 0..<H { sum += Double(h[r * ldh + p]) * Double(whh[(k * H + u) * H + p]) }
                        return sum
                    }
                    func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
                    let cNew = sigmoid(gate(1)) * Double(c0[r * ldc + u]) + sigmoid(gate(0)) * Foundation.tanh(gate(2))
                    let hNew = sigmoid(gate(3)) * Foundation.tanh(cNew)
                    let tolerance = 2e-5
                    #expect(abs(Double(c[r * ldc + u]) - cNew) <= tolerance * max(1, abs(cNew)),
                            "\(kernels) \(shape) c[\(r)][\(u)] = \(c[r * ldc + u]), want \(cNew)")
                    #expect(abs(Double(hOut[r * ldo + u]) - hNew) <= tolerance, "\(kernels) \(shape) h[\(r)][\(u)]")
                    #expect(y[r * ldy + u] == hOut[r * ldo + u], "\(kernels) \(shape) y[\(r)][\(u)]")
                    let activated = [sigmoid(gate(0)), sigmoid(gate(1)), Foundation.tanh(gate(2)), sigmoid(gate(3))]
                    for k in 0..<4 {
                        #expect(abs(Double(gates[r * 4 * H + k * H + u]) - activated[k]) <= tolerance,
                                "\(kernels) \(shape) gate \(k) of [\(r)][\(u)]: \(gates[r * 4 * H + k * H + u]), want \(activated[k])")
                    }
                    #expect(abs(Double(tanhC[r * H + u]) - Foundation.tanh(cNew)) <= tolerance, "\(kernels) \(shape) tanh(c)")
                    if abs(Double(hOut[r * ldo + u]) - hNew) > tolerance { return }
                }
                #expect(c[(r * ldc + H)..<(r * ldc + ldc)].elementsEqual(c0[(r * ldc + H)..<(r * ldc + ldc)]), "\(kernels) c padding")
                #expect(hOut[(r * ldo + H)..<(r * ldo + ldo)].allSatisfy { $0 == Self.sentinel }, "\(kernels) h padding")
                #expect(y[(r * ldy + H)..<(r * ldy + ldy)].allSatisfy { $0 == Self.sentinel }, "\(kernels) y padding")
            }
        }
    }

    /// Steps of a layer reading tokens (F = 0, an input table, each row's token id): each row's gates
    /// start from the bias plus its token's table row, every build this CPU runs, against Double;
    /// training's form (rows [h, 1]) gives the same bits; tokens repeat and rows skip some.
    @Test(arguments: [(1, 1), (9, 40), (13, 100), (7, 4), (17, 33), (6, 12), (10, 16)])
    func tokenRowsStartFromTheirTableRows(shape: (Int, Int)) {
        let (m, H, V) = (shape.0, shape.1, 5)
        var g = SeededGenerator(seed: UInt64(m * 131 + H))
        func uniform(_ count: Int, _ scale: Float) -> [Float] { (0..<count).map { _ in Float.random(in: -scale...scale, using: &g) } }
        let whh = uniform(4 * H * H, 0.5), bias = uniform(4 * H, 1), table = uniform(V * 4 * H, 1)
        let h = uniform(m * H, 1), c0 = uniform(m * H, 2)
        let ids = (0..<m).map { [3, 0, 4, 3, 1][$0 % 5] }
        for kernels in VectorKernels.runnable {
            let step = PackedLSTMStep(wih: whh, whh: whh, bias: bias, F: 0, H: H, inputTable: table, tokens: V, kernels: kernels)
            var c = c0, hOut = [Float](repeating: 0, count: m * H), y = [Float](repeating: 0, count: m * H)
            step.step(m: m, x: h, ldx: 0, h: h, ldh: H, c: &c, ldc: H, hOut: &hOut, ldo: H, y: &y, ldy: H, ids: ids)
            var rows = [Float](repeating: 1, count: m * (H + 1))
            for r in 0..<m { for p in 0..<H { rows[r * (H + 1) + p] = h[r * H + p] } }
            var cRecorded = c0, hRecorded = [Float](repeating: 0, count: m * H), yRecorded = hRecorded
            var gates = [Float](repeating: 0, count: m * 4 * H), tanhC = [Float](repeating: 0, count: m * H)
            step.recordedStep(m: m, rows: rows, lda: H + 1, c: &cRecorded, ldc: H, hOut: &hRecorded, ldo: H, y: &yRecorded,
                              ldy: H, gates: &gates, tanhC: &tanhC, ids: ids)
            #expect(cRecorded == c && hRecorded == hOut && yRecorded == y, "\(kernels) \(shape): recorded step differs")
            var worst = 0.0
            for r in 0..<m {
                for u in 0..<H {
                    func gate(_ k: Int) -> Double {
                        var sum = Double(bias[k * H + u]) + Double(table[ids[r] * 4 * H + k * H + u])
                        for p in 0..<H { sum += Double(h[r * H + p]) * Double(whh[(k * H + u) * H + p]) }
                        return sum
                    }
                    func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
                    let cNew = sigmoid(gate(1)) * Double(c0[r * H + u]) + sigmoid(gate(0)) * Foundation.tanh(gate(2))
                    let hNew = sigmoid(gate(3)) * Foundation.tanh(cNew)
                    worst = max(worst, abs(Double(c[r * H + u]) - cNew) / max(1, abs(cNew)), abs(Double(hOut[r * H + u]) - hNew))
                }
            }
            #expect(worst <= 2e-5, "\(kernels) \(shape): off by \(worst)")
        }
    }

    @Test func rowsDoNotDependOnTheirNeighbours() {
        let (m, F, H) = (23, 28, 48)
        var g = SeededGenerator(seed: 5)
        func uniform(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &g) } }
        let wih = uniform(4 * H * F), whh = uniform(4 * H * H), bias = uniform(4 * H)
        let x = uniform(m * F), h = uniform(m * H), c0 = uniform(m * H)
        for kernels in VectorKernels.runnable {
            let step = PackedLSTMStep(wih: wih, whh: whh, bias: bias, F: F, H: H, kernels: kernels)
            var (cWhole, hWhole, yWhole) = (c0, [Float](repeating: 0, count: m * H), [Float](repeating: 0, count: m * H))
            step.step(m: m, x: x, ldx: F, h: h, ldh: H, c: &cWhole, ldc: H, hOut: &hWhole, ldo: H, y: &yWhole, ldy: H)
            var (cPieces, hPieces) = (c0, [Float](repeating: 0, count: m * H))
            x.withUnsafeBufferPointer { x in
            h.withUnsafeBufferPointer { h in
            cPieces.withUnsafeMutableBufferPointer { c in
            hPieces.withUnsafeMutableBufferPointer { hp in
                for rows in [0..<1, 1..<10, 10..<19, 19..<23] {
                    let o = rows.lowerBound * H
                    step.step(m: rows.count, x: x.baseAddress! + rows.lowerBound * F, ldx: F, h: h.baseAddress! + o, ldh: H,
                              c: c.baseAddress! + o, ldc: H, hOut: hp.baseAddress! + o, ldo: H, y: hp.baseAddress! + o, ldy: H)
                }
            }}}}
            #expect(cPieces == cWhole && hPieces == hWhole && yWhole == hWhole, "\(kernels)")
        }
    }
}
