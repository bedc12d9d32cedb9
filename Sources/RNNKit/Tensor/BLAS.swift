// The one Swift file that imports the BLAS shim. Everything else calls `Scalar.gemm` or `parallelGemm`.
import CBLAS
import CPlatform
import Foundation
import RealModule

/// A floating-point type RNNKit can compute with: `Float` (the fast engine) or `Double`
/// (the same code, used for tight gradient checks).
public protocol TensorScalar: BinaryFloatingPoint, Real, BufferActivations, Codable, Sendable, CustomStringConvertible {
    /// Row-major general matrix product through BLAS:
    /// `C (m, n) = alpha · op(A) (m, k) · op(B) (k, n) + beta · C`, where `op` transposes when asked.
    /// `lda`, `ldb` and `ldc` are the row strides of the matrices as stored.
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int,
        b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// The name of the type as safetensors writes it (`F32`, `F64`).
    static var dtypeName: String { get }
}

#if canImport(Accelerate)
private typealias BLASInt = __LAPACK_int
#else
private typealias BLASInt = blasint
#endif

@inline(__always)
private func blasTranspose(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: TensorScalar {
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        precondition(m > 0 && n > 0 && k > 0, "gemm with an empty dimension")
        cblas_sgemm(CblasRowMajor, blasTranspose(transposeA), blasTranspose(transposeB),
                    BLASInt(m), BLASInt(n), BLASInt(k), alpha, a, BLASInt(lda), b, BLASInt(ldb),
                    beta, c, BLASInt(ldc))
    }
    public static var dtypeName: String { "F32" }
}

extension Double: TensorScalar {
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        precondition(m > 0 && n > 0 && k > 0, "gemm with an empty dimension")
        cblas_dgemm(CblasRowMajor, blasTranspose(transposeA), blasTranspose(transposeB),
                    BLASInt(m), BLASInt(n), BLASInt(k), alpha, a, BLASInt(lda), b, BLASInt(ldb),
                    beta, c, BLASInt(ldc))
    }
    public static var dtypeName: String { "F64" }
}

/// The name of the CPU kernels the BLAS library chose as it loaded (OpenBLAS's core name, such as
/// "Haswell" or "SkylakeX"); nil with Accelerate.
public var blasCoreName: String? {
    #if canImport(Accelerate)
    return nil
    #else
    return openblas_get_corename().map { String(cString: $0) }
    #endif
}

/// The library that computes the large products of a training step (`parallelGemm`: the weight
/// gradients, the input gradients and projections, the output layer). The recurrent step's own
/// product always runs on RNNKit's kernels (`KernelISA`).
///
/// Measured on AMD EPYC (Zen 5, AVX-512), 2 cores, with `benchmarks/products.py` over the 13 large
/// products of the benchmark configurations: oneDNN's sgemm ran 1.6–3.0× OpenBLAS held to its
/// Haswell kernels (as `OPENBLAS_CORETYPE=Haswell` in the environment does), and beat OpenBLAS's
/// SkylakeX kernels on 10 of 13 (0.89–2.4×). On AMD EPYC (Zen 3, AVX2) the two traded places, so
/// AVX2 keeps BLAS.
public enum ProductLibrary: String, CaseIterable, Sendable {
    /// The BLAS RNNKit links (OpenBLAS; Accelerate on Apple platforms).
    case blas
    /// oneDNN's sgemm (Debian's `libdnnl2`), loaded at run time where it is installed.
    case onednn

    /// The environment variable that forces a library: `RNNKIT_GEMM=blas|onednn`.
    public static let variable = "RNNKIT_GEMM"

    /// Why oneDNN cannot be used in this process, or nil when it loaded. Loads it on first use.
    public static let oneDNNUnavailable: String? = {
        var error = [CChar](repeating: 0, count: 512)
        guard rnnkit_onednn_load(&error, error.count) != 0 else { return nil }
        return String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// The library for the kernel path `isa`: `request` (the value of `RNNKIT_GEMM`) when given,
    /// else oneDNN on the AVX-512 paths (`avx512`, and `avx512-logic`, so that the tests run this
    /// choice on any CPU) where it loads, else BLAS. `oneDNNUnavailable` is asked only when needed.
    ///
    /// - Throws: `RNNKitError.invalidValue` when `request` names no library, or oneDNN when it
    ///   cannot be loaded.
    public static func choose(request: String?, isa: KernelISA,
                              oneDNNUnavailable: () -> String?) throws(RNNKitError) -> ProductLibrary {
        guard let request, !request.isEmpty else {
            return isa.isAVX512Build && oneDNNUnavailable() == nil ? .onednn : .blas
        }
        guard let wanted = ProductLibrary(rawValue: request.lowercased()) else {
            throw .invalidValue(argument: variable, expected: "blas or onednn", found: request,
                                hint: "Unset \(variable) to let RNNKit choose for this CPU.")
        }
        if wanted == .onednn, let reason = oneDNNUnavailable() {
            throw .invalidValue(argument: variable, expected: "a library this machine has", found: request,
                                hint: "oneDNN is not available (\(reason)); install it (Debian: apt-get install libdnnl2) or unset \(variable).")
        }
        return wanted
    }

    /// Checks `RNNKIT_GEMM` (the command-line tool calls this first, to refuse a bad value by name).
    public static func checkEnvironment() throws(RNNKitError) {
        _ = try choose(request: ProcessInfo.processInfo.environment[variable], isa: KernelISA.active) { oneDNNUnavailable }
    }

    /// The library every large Float product in this process uses: `RNNKIT_GEMM` when it names one
    /// that loads, else the choice for the active kernel path.
    public static let active: ProductLibrary = {
        let request = ProcessInfo.processInfo.environment[variable]
        return (try? choose(request: request, isa: KernelISA.active) { oneDNNUnavailable })
            ?? (try? choose(request: nil, isa: KernelISA.active) { oneDNNUnavailable }) ?? .blas
    }()
}

/// The threads RNNKit computes with: `RNNKIT_THREADS` if set, else one per core, shared out among
/// the ranks an MPI launcher started on this machine (`ProcessGroup.localSize`).
public let computeThreads: Int = {
    if let text = ProcessInfo.processInfo.environment["RNNKIT_THREADS"], let n = Int(text), n > 0 { return n }
    return max(1, ProcessInfo.processInfo.activeProcessorCount / ProcessGroup.localSize)
}()

/// The most row chunks `parallelRows` makes.
let parallelChunkLimit = computeThreads

/// Set once, on the first parallel call:
/// - BLAS runs single-threaded, since RNNKit spreads work over the cores itself (`parallelRows`,
///   `parallelGemm`) and BLAS's own pool would spin on cores RNNKit's threads need;
/// - glibc's malloc serves every block from its heap and keeps freed ones there instead of returning
///   them to the system, so the buffers every training step allocates and frees, the largest
///   included, are reused without page faults (`rnnkit_keep_freed_memory`).
private let blasRunsSingleThreaded: Void = {
    #if !canImport(Accelerate)
    openblas_set_num_threads(1)
    #endif
    rnnkit_keep_freed_memory()
}()

/// Runs `body(rows, chunk)` over `0..<count` split into up to `computeThreads` contiguous chunks,
/// each of at least `minimumRows` rows, in parallel.
///
/// The recurrent engine splits its batch this way: samples are independent through time, so each
/// core runs the whole time loop on its share without meeting the others. A row's arithmetic does
/// not depend on the chunking, except that BLAS may order a sum differently for different `m`.
func parallelRows(_ count: Int, minimumRows: Int = 16, threads: Int = parallelChunkLimit, _ body: (Range<Int>, Int) -> Void) {
    _ = blasRunsSingleThreaded
    let chunks = min(threads, max(1, count / minimumRows))
    guard chunks > 1 else { return body(0..<count, 0) }
    // The chunks write disjoint rows of the caller's buffers: safe to share, which Swift cannot see.
    struct Shared: @unchecked Sendable { let body: (Range<Int>, Int) -> Void }
    withoutActuallyEscaping(body) { body in
        let shared = Shared(body: body)
        DispatchQueue.concurrentPerform(iterations: chunks) { k in
            shared.body((k * count / chunks)..<((k + 1) * count / chunks), k)
        }
    }
}

extension TensorScalar {
    /// `gemm` on up to `threads` cores, through `library` for Float (`ProductLibrary.active` unless
    /// told): through BLAS, C's `m` rows split across the cores, each chunk one single-threaded call;
    /// through oneDNN, C's columns split across the cores from 256 columns, else one call that
    /// oneDNN threads itself. Products under about a million multiply-adds stay in one
    /// single-threaded BLAS call, as do all Double products.
    @_spi(Testing) public static func parallelGemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int,
        b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int, threads: Int = computeThreads,
        library: ProductLibrary = .active
    ) {
        if Self.self == Float.self, library == .onednn, m * n * k >= 1_000_000 {
            precondition(m > 0 && n > 0 && k > 0, "gemm with an empty dimension")
            func call(threads: Int, m: Int, n: Int, a: UnsafePointer<Self>, b: UnsafePointer<Self>, c: UnsafeMutablePointer<Self>) {
                let status = rnnkit_onednn_sgemm(Int32(threads), transposeA ? 84 : 78, transposeB ? 84 : 78,  // "T", "N"
                                                 Int64(m), Int64(n), Int64(k), Float(alpha),
                                                 UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), Int64(lda),
                                                 UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), Int64(ldb), Float(beta),
                                                 UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), Int64(ldc))
                precondition(status == 0, "oneDNN's sgemm refused a product (status \(status))")
            }
            if threads > 1, n >= 256 {
                // C's columns split across the cores in blocks of 16, each chunk one single-threaded
                // oneDNN call: training LSTM 256 × 2 ran 2–3% faster than with oneDNN threading the
                // whole product itself, the other configurations within the noise (AMD EPYC, Zen 5,
                // AVX-512, 2 cores; `rnnkit bench`, alternating).
                parallelRows(n / 16, minimumRows: 1, threads: threads) { blocks, _ in
                    let j0 = blocks.lowerBound * 16, j1 = blocks.upperBound == n / 16 ? n : blocks.upperBound * 16
                    call(threads: 1, m: m, n: j1 - j0, a: a, b: b + (transposeB ? j0 * ldb : j0), c: c + j0)
                }
            } else {
                call(threads: threads, m: m, n: n, a: a, b: b, c: c)
            }
            return
        }
        let rowsPerMillion = max(8, 1_000_000 / max(n * k, 1))
        parallelRows(m, minimumRows: rowsPerMillion, threads: threads) { rows, _ in
            gemm(transposeA: transposeA, transposeB: transposeB, m: rows.count, n: n, k: k, alpha: alpha,
                 a: a + (transposeA ? rows.lowerBound : rows.lowerBound * lda), lda: lda, b: b, ldb: ldb,
                 beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
        }
    }
}
