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
