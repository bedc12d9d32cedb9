import Foundation
@_spi(Testing) import RNNKit
import Testing

/// The vectorised Float activations against Double libm, over a dense sweep and the edge cases.
@Suite struct ActivationTests {
    static let sweep: [Float] = stride(from: -100.0, through: 100.0, by: 0.0137).map { Float($0) }
        + [0, -0, 1e-30, -1e-30, 1e-8, 0.6249, 0.625, 0.6251, 88, 88.5, 89, 90, -87, -88, -104, -1e4, 1e4,
           .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .infinity, -.infinity]

    func worst(_ apply: (UnsafeMutablePointer<Float>, Int) -> Void, _ reference: (Double) -> Double) -> (abs: Double, rel: Double) {
        var values = Self.sweep
        values.withUnsafeMutableBufferPointer { apply($0.baseAddress!, $0.count) }  // odd count: the scalar tail runs too
        var worstAbs = 0.0, worstRel = 0.0
        for (x, y) in zip(Self.sweep, values) {
            let want = reference(Double(x))
            let error = abs(Double(y) - want)
            worstAbs = max(worstAbs, error)
            if abs(want) > 1e-30 { worstRel = max(worstRel, error / abs(want)) }
            #expect(y.isFinite, "f(\(x)) = \(y)")
        }
        return (worstAbs, worstRel)
    }

    /// Every path this CPU can run: the portable one (nil), and each build of the C kernels (AVX-512
    /// where the CPU has it; AVX2 and the AVX-512 logic compiled for AVX2 where it has AVX2).
    static let paths: [VectorKernels?] = [nil] + VectorKernels.runnable

    static func sigmoid(_ kernels: VectorKernels?) -> (UnsafeMutablePointer<Float>, Int) -> Void {
        guard let kernels else { return Float.portableSigmoid }
        return { Float.sigmoid($0, count: $1, kernels: kernels) }
    }
    static func tanh(_ kernels: VectorKernels?) -> (UnsafeMutablePointer<Float>, Int) -> Void {
        guard let kernels else { return Float.portableTanh }
        return { Float.tanh($0, count: $1, kernels: kernels) }
    }

    @Test(arguments: paths)
    func sigmoidMatchesLibm(kernels: VectorKernels?) {
        let (absError, relError) = worst(Self.sigmoid(kernels), { 1 / (1 + Foundation.exp(-$0)) })
        #expect(absError < 1e-7, "worst absolute error \(absError)")
        #expect(relError < 1e-6, "worst relative error \(relError)")
    }

    @Test(arguments: paths)
    func tanhMatchesLibm(kernels: VectorKernels?) {
        let (absError, relError) = worst(Self.tanh(kernels), { Foundation.tanh($0) })
        #expect(absError < 2e-7, "worst absolute error \(absError)")
        #expect(relError < 1e-6, "worst relative error \(relError)")
    }

    @Test(arguments: paths)
    func notANumberStaysNotANumber(kernels: VectorKernels?) {
        for count in [11, 37] {  // a tail only; full vectors and a tail
            var values: [Float] = Array(repeating: .nan, count: count)
            values.withUnsafeMutableBufferPointer { Self.sigmoid(kernels)($0.baseAddress!, $0.count) }
            #expect(values.allSatisfy { $0.isNaN })
            values = Array(repeating: .nan, count: count)
            values.withUnsafeMutableBufferPointer { Self.tanh(kernels)($0.baseAddress!, $0.count) }
            #expect(values.allSatisfy { $0.isNaN })
        }
    }

    /// The public entry points run the active path's kernels: the same values, bit for bit.
    @Test func publicFunctionsRunTheActivePath() {
        var ours = Self.sweep, theirs = Self.sweep
        ours.withUnsafeMutableBufferPointer { Float.sigmoid($0.baseAddress!, count: $0.count) }
        theirs.withUnsafeMutableBufferPointer { Self.sigmoid(VectorKernels.active)($0.baseAddress!, $0.count) }
        #expect(ours.map(\.bitPattern) == theirs.map(\.bitPattern))
    }
}
