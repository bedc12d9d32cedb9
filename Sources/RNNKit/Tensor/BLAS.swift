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
    /// `gemm` with C's `m` rows split across the cores (each chunk one single-threaded BLAS call);
    /// products under about a million multiply-adds stay in one call.
    static func parallelGemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int,
        b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int, threads: Int = parallelChunkLimit
    ) {
        let rowsPerMillion = max(8, 1_000_000 / max(n * k, 1))
        parallelRows(m, minimumRows: rowsPerMillion, threads: threads) { rows, _ in
            gemm(transposeA: transposeA, transposeB: transposeB, m: rows.count, n: n, k: k, alpha: alpha,
                 a: a + (transposeA ? rows.lowerBound : rows.lowerBound * lda), lda: lda, b: b, ldb: ldb,
                 beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
        }
    }
}
