// The one Swift file that imports the BLAS shim. Everything else calls `Scalar.gemm`.
import CBLAS
import RealModule

/// A floating-point type RNNKit can compute with: `Float` (the fast engine) or `Double`
/// (the same code, used for tight gradient checks).
public protocol TensorScalar: BinaryFloatingPoint, Real, Codable, Sendable, CustomStringConvertible {
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
