import CKernels
import Foundation

// The choice of RNNKit's own vector kernels (Sources/CKernels/wide.h), made once at run time from
// the CPU and the environment. One C source, compiled for each instruction set: AVX-512 (F, BW,
// DQ, VL) where the CPU has it, else AVX2 + FMA, else the portable path (Swift SIMD activations and
// BLAS for every product, as on ARM).

/// The instruction sets RNNKit's kernels are built for, widest first, and one path for the tests.
public enum KernelISA: String, CaseIterable, Sendable {
    case avx512, avx2, portable
    /// The AVX-512 build's blocking (8 × 32 tiles, two-panel tiles, depth blocks of 1024) compiled
    /// for AVX2: not a path for speed (its accumulators spill), but the one that lets a CPU without
    /// AVX-512 run the whole test suite through the AVX-512 build's logic. Never chosen unless
    /// requested, and not in `supported`.
    case avx512Logic = "avx512-logic"

    /// The environment variable that forces a path: `RNNKIT_ISA=avx512|avx2|portable`, or
    /// `avx512-logic` for the tests.
    public static let variable = "RNNKIT_ISA"

    /// What this CPU and its OS support, as bits: `cpuAVX2` (AVX2 and FMA), `cpuAVX512` (AVX-512 F,
    /// BW, DQ and VL, with zmm state saved by the OS).
    @_spi(Testing) public static let cpu = Int(rnnkit_cpu_isa())
    @_spi(Testing) public static let cpuAVX2 = Int(RNNKIT_ISA_AVX2), cpuAVX512 = Int(RNNKIT_ISA_AVX512)

    /// The paths this CPU can run, widest first (`portable` always).
    public static var supported: [KernelISA] { supported(cpu: cpu) }

    /// The paths a CPU with these bits can run, widest first.
    @_spi(Testing) public static func supported(cpu: Int) -> [KernelISA] {
        var paths: [KernelISA] = []
        if cpu & cpuAVX512 != 0 && cpu & cpuAVX2 != 0 { paths.append(.avx512) }
        if cpu & cpuAVX2 != 0 { paths.append(.avx2) }
        return paths + [.portable]
    }

    /// The path for a CPU with these bits: `request` (the value of `RNNKIT_ISA`) when
    /// given, else the widest the CPU has. `avx512-logic` runs wherever AVX2 does.
    ///
    /// - Throws: `RNNKitError.invalidValue` when `request` names no path, or one this CPU cannot run.
    public static func choose(request: String?, cpu: Int) throws(RNNKitError) -> KernelISA {
        let paths = supported(cpu: cpu)
        guard let request, !request.isEmpty else { return paths[0] }
        guard let wanted = KernelISA(rawValue: request.lowercased()) else {
            throw .invalidValue(argument: variable, expected: "avx512, avx2 or portable (or avx512-logic, a path for tests)",
                                found: request,
                                hint: "Unset \(variable) to use the widest path this CPU has (\(paths[0].rawValue)).")
        }
        guard paths.contains(wanted) || (wanted == .avx512Logic && paths.contains(.avx2)) else {
            throw .invalidValue(argument: variable, expected: "one this CPU runs (\(paths.map(\.rawValue).joined(separator: ", ")))", found: request,
                                hint: "This CPU cannot run the \(wanted.rawValue) kernels; unset \(variable) to use \(paths[0].rawValue).")
        }
        return wanted
    }

    /// Checks `RNNKIT_ISA` (the command-line tool calls this first, to refuse a bad value by name).
    public static func checkEnvironment() throws(RNNKitError) {
        _ = try choose(request: ProcessInfo.processInfo.environment[variable], cpu: cpu)
    }

    /// The path every computation in this process uses: `RNNKIT_ISA` when it names one this CPU can
    /// run, else the widest it has.
    public static let active: KernelISA =
        (try? choose(request: ProcessInfo.processInfo.environment[variable], cpu: cpu))
        ?? supported[0]

    /// The machine's arithmetic peak in GFLOP/s: register-only multiply-adds at the widest vector
    /// width this CPU has, on `threads` threads at once, each thread's best window of a few
    /// milliseconds within about `seconds` (nil where RNNKit has no vector kernels).
    ///
    /// The best window, not the average: on a shared virtual machine a core's speed drops for tens
    /// of milliseconds at a time while the host runs something else. Averaged over 0.3 s, the same
    /// AMD EPYC (AVX2), 2 cores, read anywhere from 100 to 198 GFLOP/s from one run to the next, and
    /// every efficiency printed against it moved twofold; its best 4 ms windows read 195–207.
    public static func peakGFLOPs(threads: Int = computeThreads, seconds: Double = 0.3) -> Double? {
        guard let widest = supported[0].kernels else { return nil }
        var rates = [Double](repeating: 0, count: threads)
        rates.withUnsafeMutableBufferPointer { out in
            let out = out.baseAddress!
            parallelRows(threads, minimumRows: 1, threads: threads) { run, _ in
                for t in run { out[t] = widest.peakGFLOPs(seconds: seconds) }
            }
        }
        return rates.reduce(0, +)
    }

    /// GFLOP/s of a `size` × `size` float32 product over about `seconds` each: through BLAS, through
    /// oneDNN (nil where it does not load), and through the active path's own kernel (B packed once,
    /// A's rows split across `threads`; nil on the portable path).
    public static func largeProductGFLOPs(size n: Int = 2048, threads: Int = computeThreads,
                                          seconds: Double = 1) throws(RNNKitError) -> (blas: Double, onednn: Double?, packed: Double?) {
        var g = SeededGenerator(seed: 1)
        let a = try Tensor<Float>.uniform(shape: [n, n], low: -1, high: 1, generator: &g)
        let b = try Tensor<Float>.uniform(shape: [n, n], low: -1, high: 1, generator: &g)
        func rate(_ body: () -> Void) -> Double {
            body()
            var runs = 0
            let start = Date()
            repeat {
                body()
                runs += 1
            } while Date().timeIntervalSince(start) < seconds
            return Double(runs) * 2 * Double(n * n * n) / Date().timeIntervalSince(start) / 1e9
        }
        var c = [Float](repeating: 0, count: n * n)
        func library(_ library: ProductLibrary) -> Double {
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        rate {
                            Float.parallelGemm(transposeA: false, transposeB: false, m: n, n: n, k: n, alpha: 1,
                                               a: a.baseAddress!, lda: n, b: b.baseAddress!, ldb: n, beta: 0,
                                               c: c.baseAddress!, ldc: n, threads: threads, library: library)
                        }
                    }
                }
            }
        }
        let blas = library(.blas)
        let onednn = ProductLibrary.oneDNNUnavailable == nil ? library(.onednn) : nil
        guard let kernels = VectorKernels.active else { return (blas, onednn, nil) }
        let packed = a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    let (a, c) = (a.baseAddress!, c.baseAddress!)
                    let operand = RepeatedOperand(b.baseAddress!, ldb: n, transposed: false, k: n, n: n, uses: 2,
                                                  threads: threads, kernels: kernels)
                    return rate {
                        parallelRows(n, minimumRows: 96, threads: threads) { rows, _ in
                            operand.accumulate(m: rows.count, a + rows.lowerBound * n, lda: n,
                                               into: c + rows.lowerBound * n, ldc: n)
                        }
                    }
                }
            }
        }
        return (blas, onednn, packed)
    }

    /// The OpenBLAS core type this process should have been started with, when it differs from the
    /// one OpenBLAS chose: "SkylakeX" (its AVX-512 kernels) when the active path is AVX-512 but
    /// OpenBLAS runs AVX2 kernels, at half the machine's speed. (On AMD EPYC Zen 5, Debian 12's
    /// OpenBLAS 0.3.21 chose its Cooperlake kernels by itself; it ran Haswell kernels there only
    /// because the environment set `OPENBLAS_CORETYPE=Haswell`, which RNNKit leaves alone. The
    /// restart is for an OpenBLAS that does not recognise its CPU.) OpenBLAS reads the variable only
    /// as it loads, so the command-line tool restarts itself with it set (`rnnkit` does this unless
    /// `OPENBLAS_CORETYPE` is already set).
    public static func preferredBLASCore(active: KernelISA = active, chosen: String? = blasCoreName) -> String? {
        guard active == .avx512, let chosen, ["haswell", "zen"].contains(chosen.lowercased()) else { return nil }
        return "SkylakeX"
    }

    /// Whether this path runs the AVX-512 build's logic (`avx512`, or `avx512-logic` on AVX2), and so
    /// takes the choices measured for AVX-512 (oneDNN for the large products, the packed kernel for
    /// the input gradients).
    var isAVX512Build: Bool { self == .avx512 || self == .avx512Logic }

    /// The C kernels of this path (nil: portable).
    @_spi(Testing) public var kernels: VectorKernels? {
        switch self {
        case .avx512: .avx512
        case .avx2: .avx2
        case .avx512Logic: .avx512Logic
        case .portable: nil
        }
    }
}

/// One build of the C kernels of wide.h.
@_spi(Testing) public struct VectorKernels: Sendable, CustomStringConvertible {
    public let description: String
    let sigmoid: @convention(c) (UnsafeMutablePointer<Float>?, Int) -> Void
    let tanh: @convention(c) (UnsafeMutablePointer<Float>?, Int) -> Void
    let product: @convention(c) (Int, Int, Int, UnsafePointer<Float>?, Int, UnsafePointer<Float>?, UnsafePointer<Float>?,
                                 UnsafeMutablePointer<Float>?, Int) -> Void
    let peak: @convention(c) (Int, UnsafeMutablePointer<Float>?) -> Double
    /// One sample's LSTM or GRU step over some units, the gates activated and the state updated in
    /// one pass (CKernels.h).
    @_spi(Testing) public let lstmCell: @convention(c) (Int, UnsafeMutablePointer<Float>?, Int, UnsafeMutablePointer<Float>?,
                                  UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?) -> Void
    @_spi(Testing) public let gruCell: @convention(c) (Int, UnsafeMutablePointer<Float>?, Int, UnsafePointer<Float>?, Int,
                                 UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?) -> Void
    /// The backward pass of one sample's LSTM or GRU step over some units: the gradients of the
    /// pre-activations, dh and dc (CKernels.h).
    @_spi(Testing) public let lstmCellBackward: @convention(c) (Int, UnsafePointer<Float>?, Int, UnsafePointer<Float>?,
        UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?,
        UnsafeMutablePointer<Float>?) -> Void
    @_spi(Testing) public let gruCellBackward: @convention(c) (Int, UnsafePointer<Float>?, Int, UnsafePointer<Float>?,
        UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?,
        UnsafeMutablePointer<Float>?) -> Void
    /// Column sums of a row-major block added into a vector, bit for bit as the scalar loop (CKernels.h).
    @_spi(Testing) public let columnSums: @convention(c) (Int, Int, UnsafePointer<Float>?, Int,
                                                          UnsafeMutablePointer<Float>?) -> Void
    /// One step of an LSTM layer, inference or training: the step product on weights packed by
    /// `rnnkit_pack_lstm` with the cell on each register tile's results (CKernels.h).
    let lstmStep: @convention(c) (Int, Int, Int, Int, UnsafePointer<Float>?, Int, UnsafePointer<Float>?, Int,
                                  UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Int>?, Int,
                                  UnsafeMutablePointer<Float>?, Int,
                                  UnsafeMutablePointer<Float>?, Int, UnsafeMutablePointer<Float>?, Int,
                                  UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?) -> Void
    /// Adam's update of some parameters, bit for bit as the portable loop (CKernels.h).
    let adam: @convention(c) (Int, UnsafeMutablePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?,
                              UnsafeMutablePointer<Float>?, Float, Float, Float, Float, Float) -> Void

    static let avx512 = VectorKernels(description: "avx512", sigmoid: rnnkit_sigmoid_avx512, tanh: rnnkit_tanh_avx512,
                                      product: rnnkit_sgemm_packed_avx512, peak: rnnkit_fma_peak_avx512,
                                      lstmCell: rnnkit_lstm_cell_avx512, gruCell: rnnkit_gru_cell_avx512,
                                      lstmCellBackward: rnnkit_lstm_cell_backward_avx512,
                                      gruCellBackward: rnnkit_gru_cell_backward_avx512, columnSums: rnnkit_column_sums_avx512,
                                      lstmStep: rnnkit_lstm_step_avx512, adam: rnnkit_adam_avx512)
    static let avx2 = VectorKernels(description: "avx2", sigmoid: rnnkit_sigmoid_avx2, tanh: rnnkit_tanh_avx2,
                                    product: rnnkit_sgemm_packed_avx2, peak: rnnkit_fma_peak_avx2,
                                    lstmCell: rnnkit_lstm_cell_avx2, gruCell: rnnkit_gru_cell_avx2,
                                    lstmCellBackward: rnnkit_lstm_cell_backward_avx2,
                                    gruCellBackward: rnnkit_gru_cell_backward_avx2, columnSums: rnnkit_column_sums_avx2,
                                    lstmStep: rnnkit_lstm_step_avx2, adam: rnnkit_adam_avx2)
    /// The AVX-512 build's blocking compiled for AVX2: its logic, testable without AVX-512.
    static let avx512Logic = VectorKernels(description: "avx512 logic on avx2", sigmoid: rnnkit_sigmoid_avx512_logic,
                                           tanh: rnnkit_tanh_avx512_logic, product: rnnkit_sgemm_packed_avx512_logic,
                                           peak: rnnkit_fma_peak_avx512_logic, lstmCell: rnnkit_lstm_cell_avx512_logic,
                                           gruCell: rnnkit_gru_cell_avx512_logic,
                                           lstmCellBackward: rnnkit_lstm_cell_backward_avx512_logic,
                                           gruCellBackward: rnnkit_gru_cell_backward_avx512_logic,
                                           columnSums: rnnkit_column_sums_avx512_logic,
                                           lstmStep: rnnkit_lstm_step_avx512_logic, adam: rnnkit_adam_avx512_logic)

    /// The kernels of the active path (nil: portable).
    public static let active = KernelISA.active.kernels

    /// Every build this CPU can run, for the tests: the AVX-512 build where the CPU has AVX-512, and
    /// the AVX2 build and the AVX-512 logic build where it has AVX2.
    public static var runnable: [VectorKernels] {
        let paths = KernelISA.supported
        return (paths.contains(.avx512) ? [avx512] : []) + (paths.contains(.avx2) ? [avx2, avx512Logic] : [])
    }

    /// GFLOP/s of register-only multiply-adds on one thread: the best of windows of 2 million rounds
    /// (about 4 ms on a 256-bit unit) over about `seconds`, at least three of them.
    public func peakGFLOPs(seconds: Double = 0.2) -> Double {
        var sink: Float = 1, best = 0.0, windows = 0
        let start = Date()
        repeat {
            let windowStart = Date()
            let flops = peak(2_000_000, &sink)
            best = max(best, flops / Date().timeIntervalSince(windowStart) / 1e9)
            windows += 1
        } while windows < 3 || Date().timeIntervalSince(start) < seconds
        return best
    }
}
