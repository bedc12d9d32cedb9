import Foundation
@_spi(Testing) import RNNKit
import Testing

/// The library for a training step's large products: oneDNN's sgemm on the AVX-512 paths where it
/// loads, BLAS elsewhere, `RNNKIT_GEMM` when it names one; and each library's products against a
/// Double reference, on every transposition, with padded rows, alpha and beta.
@Suite struct ProductLibraryTests {
    static let loads: @Sendable () -> String? = { nil }
    static let missing: @Sendable () -> String? = { "cannot load libdnnl.so.2" }

    @Test func choosesOneDNNOnTheAVX512PathsWhereItLoads() throws {
        #expect(try ProductLibrary.choose(request: nil, isa: .avx512, oneDNNUnavailable: Self.loads) == .onednn)
        #expect(try ProductLibrary.choose(request: "", isa: .avx512Logic, oneDNNUnavailable: Self.loads) == .onednn)
        #expect(try ProductLibrary.choose(request: nil, isa: .avx2, oneDNNUnavailable: Self.loads) == .blas)
        #expect(try ProductLibrary.choose(request: nil, isa: .portable, oneDNNUnavailable: Self.loads) == .blas)
        #expect(try ProductLibrary.choose(request: nil, isa: .avx512, oneDNNUnavailable: Self.missing) == .blas)
    }

    @Test func honoursARequestAndRefusesOneItCannotMeet() throws {
        #expect(try ProductLibrary.choose(request: "BLAS", isa: .avx512, oneDNNUnavailable: Self.loads) == .blas)
        #expect(try ProductLibrary.choose(request: "onednn", isa: .portable, oneDNNUnavailable: Self.loads) == .onednn)
        #expect(throws: RNNKitError.self) { try ProductLibrary.choose(request: "mkl", isa: .avx2, oneDNNUnavailable: Self.loads) }
        do {
            _ = try ProductLibrary.choose(request: "onednn", isa: .avx512, oneDNNUnavailable: Self.missing)
            Issue.record("oneDNN requested where it does not load, and no error")
        } catch {
            #expect("\(error)".contains("RNNKIT_GEMM") && "\(error)".contains("libdnnl"), "\(error)")
        }
    }

    /// `make test` installs oneDNN on Linux, so it loads here, and this process uses the library its
    /// kernel path calls for, or the one `RNNKIT_GEMM` names.
    @Test func thisProcessUsesTheExpectedLibrary() {
        #if os(Linux)
        #expect(ProductLibrary.oneDNNUnavailable == nil, "\(ProductLibrary.oneDNNUnavailable ?? "")")
        #endif
        let requested = ProcessInfo.processInfo.environment[ProductLibrary.variable] ?? ""
        if requested.isEmpty {
            let avx512 = KernelISA.active == .avx512 || KernelISA.active == .avx512Logic
            #expect(ProductLibrary.active == (avx512 && ProductLibrary.oneDNNUnavailable == nil ? .onednn : .blas))
        } else {
            #expect(ProductLibrary.active.rawValue == requested.lowercased())
        }
    }

    struct Shape: Sendable, CustomTestStringConvertible {
        let transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, threads: Int
        var testDescription: String { "\(transposeA ? "Aᵀ" : "A")·\(transposeB ? "Bᵀ" : "B") \(m)×\(n)×\(k) on \(threads)" }
    }

    /// Every transposition, sizes that are no multiple of a vector or a tile, above the million
    /// multiply-adds under which `parallelGemm` keeps BLAS, on one thread and on two.
    static let shapes = [
        Shape(transposeA: false, transposeB: false, m: 131, n: 97, k: 101, threads: 2),
        Shape(transposeA: true, transposeB: false, m: 64, n: 157, k: 300, threads: 2),
        Shape(transposeA: false, transposeB: true, m: 300, n: 33, k: 129, threads: 1),
        Shape(transposeA: true, transposeB: true, m: 97, n: 130, k: 90, threads: 2),
        Shape(transposeA: true, transposeB: false, m: 513, n: 29, k: 77, threads: 1),
        // Over a million multiply-adds and 256 columns: oneDNN's columns split across the cores,
        // the last block a partial one.
        Shape(transposeA: false, transposeB: true, m: 40, n: 263, k: 100, threads: 2),
        Shape(transposeA: true, transposeB: false, m: 37, n: 300, k: 97, threads: 2),
    ]

    static var libraries: [ProductLibrary] { ProductLibrary.oneDNNUnavailable == nil ? [.blas, .onednn] : [.blas] }

    /// C = 0.5 · op(A) · op(B) + 1 · C, with every matrix's rows padded by 3: each element within
    /// Float rounding of the Double product, and the padding untouched.
    @Test(arguments: libraries, shapes) func productAgreesWithDouble(library: ProductLibrary, shape: Shape) throws {
        let (m, n, k) = (shape.m, shape.n, shape.k)
        let (aRows, aColumns) = shape.transposeA ? (k, m) : (m, k)
        let (bRows, bColumns) = shape.transposeB ? (n, k) : (k, n)
        let (lda, ldb, ldc) = (aColumns + 3, bColumns + 3, n + 3)
        var g = SeededGenerator(seed: 7)
        let a = try Tensor<Float>.uniform(shape: [aRows * lda], low: -1, high: 1, generator: &g).scalars
        let b = try Tensor<Float>.uniform(shape: [bRows * ldb], low: -1, high: 1, generator: &g).scalars
        let c0 = try Tensor<Float>.uniform(shape: [m * ldc], low: -1, high: 1, generator: &g).scalars
        var c = c0
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    Float.parallelGemm(transposeA: shape.transposeA, transposeB: shape.transposeB, m: m, n: n, k: k,
                                       alpha: 0.5, a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb, beta: 1,
                                       c: c.baseAddress!, ldc: ldc, threads: shape.threads, library: library)
                }
            }
        }
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0, scale = 0.0
                for p in 0..<k {
                    let x = Double(shape.transposeA ? a[p * lda + i] : a[i * lda + p])
                    let y = Double(shape.transposeB ? b[j * ldb + p] : b[p * ldb + j])
                    sum += x * y
                    scale += abs(x * y)
                }
                let expected = 0.5 * sum + Double(c0[i * ldc + j])
                worst = max(worst, abs(Double(c[i * ldc + j]) - expected) / (0.5 * scale + abs(Double(c0[i * ldc + j]))))
            }
            for j in n..<ldc { #expect(c[i * ldc + j] == c0[i * ldc + j], "padding of row \(i) written") }
        }
        #expect(worst < 1e-5, "worst error relative to the sum of magnitudes: \(worst)")
    }
}
