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
        // The C kernels' rational fit is within 3.1e-7 over every float of [-12, 12] (5 ulp of 1,
        // scripts/fit_tanh.py); the portable path's Cephes polynomials within 8e-8.
        #expect(absError < (kernels == nil ? 2e-7 : 3.5e-7), "worst absolute error \(absError)")
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

/// The fused cell updates of the C kernels (rnnkit_lstm_cell, rnnkit_gru_cell, and their backward passes) against the cell
/// equations in Double, on every build this CPU runs, for unit counts that hit the partial vector
/// at the end; nothing past the units (or between the gate blocks) may be written.
@Suite struct CellKernelTests {
    static let units = [1, 7, 15, 16, 17, 40, 100]
    static let sentinel: Float = 12345
    /// Float rounding of sums of inputs up to 40 (and of c) in the kernels; a wrong gate or lane is off by far more.
    static let tolerance = 1e-5

    /// Pre-activations mostly in [-4, 4], a few far out where the activations saturate.
    func values(_ count: Int, _ g: inout SeededGenerator) -> [Float] {
        (0..<count).map { i in i % 11 == 5 ? Float.random(in: -40...40, using: &g) : Float.random(in: -4...4, using: &g) }
    }
    func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }

    @Test(arguments: VectorKernels.runnable)
    func lstmCellMatchesTheEquations(kernels: VectorKernels) {
        var rng = SeededGenerator(seed: 11)
        for U in Self.units {
            for record in [false, true] {
                let stride = U + 3  // gaps between the gate blocks must stay as they are
                let gates0 = values(4 * stride, &rng), c0 = values(U, &rng)
                let padding = [Float](repeating: Self.sentinel, count: 16)  // a whole vector past the units
                var gates = gates0 + padding, c = c0 + padding
                var h = [Float](repeating: Self.sentinel, count: U + 16), y = h, tc = h
                gates.withUnsafeMutableBufferPointer { g in c.withUnsafeMutableBufferPointer { c in
                    h.withUnsafeMutableBufferPointer { h in y.withUnsafeMutableBufferPointer { y in
                        tc.withUnsafeMutableBufferPointer { tc in
                            kernels.lstmCell(U, g.baseAddress, stride, c.baseAddress, h.baseAddress, y.baseAddress,
                                             record ? tc.baseAddress : nil)
                        }
                    }}
                }}
                var worst = 0.0
                for j in 0..<U {
                    let i = sigmoid(Double(gates0[j])), f = sigmoid(Double(gates0[stride + j]))
                    let gg = Foundation.tanh(Double(gates0[2 * stride + j])), o = sigmoid(Double(gates0[3 * stride + j]))
                    let cNew = f * Double(c0[j]) + i * gg, t = Foundation.tanh(cNew), hNew = o * t
                    var got = [(c[j], cNew), (h[j], hNew), (y[j], hNew)]
                    if record {
                        got += [(tc[j], t), (gates[j], i), (gates[stride + j], f), (gates[2 * stride + j], gg),
                                (gates[3 * stride + j], o)]
                    }
                    for (value, want) in got { worst = max(worst, abs(Double(value) - want)) }
                }
                #expect(worst < Self.tolerance, "\(kernels) U=\(U) record=\(record): worst error \(worst)")
                #expect([c[U...], h[U...], y[U...], tc[U...], gates[(4 * stride)...]].allSatisfy { $0.elementsEqual(padding) })
                if !record { #expect(tc.allSatisfy { $0 == Self.sentinel }) }
                // Untouched: the gaps always, the whole gate block when not recording.
                for gate in 0..<4 {
                    let range = record ? (gate * stride + U)..<((gate + 1) * stride) : (gate * stride)..<((gate + 1) * stride)
                    #expect(Array(gates[range]) == Array(gates0[range]), "\(kernels) U=\(U) gate \(gate)")
                }
            }
        }
    }

    @Test(arguments: VectorKernels.runnable)
    func gruCellMatchesTheEquations(kernels: VectorKernels) {
        var rng = SeededGenerator(seed: 12)
        for U in Self.units {
            for record in [false, true] {
                let stride = U + 2, hiddenStride = U + 5
                let gates0 = values(3 * stride, &rng), hw = values(3 * hiddenStride, &rng), h0 = values(U, &rng)
                let padding = [Float](repeating: Self.sentinel, count: 16)  // a whole vector past the units
                var gates = gates0 + padding, h = h0 + padding
                var y = [Float](repeating: Self.sentinel, count: U + 16), side = y
                gates.withUnsafeMutableBufferPointer { g in h.withUnsafeMutableBufferPointer { h in
                    y.withUnsafeMutableBufferPointer { y in side.withUnsafeMutableBufferPointer { side in
                        kernels.gruCell(U, g.baseAddress, stride, hw, hiddenStride, h.baseAddress, y.baseAddress,
                                        record ? side.baseAddress : nil)
                    }}
                }}
                var worst = 0.0
                for j in 0..<U {
                    let r = sigmoid(Double(gates0[j]) + Double(hw[j]))
                    let z = sigmoid(Double(gates0[stride + j]) + Double(hw[hiddenStride + j]))
                    let hn = Double(hw[2 * hiddenStride + j])
                    let n = Foundation.tanh(Double(gates0[2 * stride + j]) + r * hn)
                    let hNew = (1 - z) * n + z * Double(h0[j])
                    var got = [(h[j], hNew), (y[j], hNew)]
                    if record { got += [(side[j], hn), (gates[j], r), (gates[stride + j], z), (gates[2 * stride + j], n)] }
                    for (value, want) in got { worst = max(worst, abs(Double(value) - want)) }
                }
                #expect(worst < Self.tolerance, "\(kernels) U=\(U) record=\(record): worst error \(worst)")
                #expect([h[U...], y[U...], side[U...], gates[(3 * stride)...]].allSatisfy { $0.elementsEqual(padding) })
                if !record { #expect(side.allSatisfy { $0 == Self.sentinel }) }
                for gate in 0..<3 {
                    let range = record ? (gate * stride + U)..<((gate + 1) * stride) : (gate * stride)..<((gate + 1) * stride)
                    #expect(Array(gates[range]) == Array(gates0[range]), "\(kernels) U=\(U) gate \(gate)")
                }
            }
        }
    }

    /// Activated gates and states as the forward pass leaves them: sigmoids in (0, 1), tanh in (−1, 1).
    func activations(_ count: Int, _ g: inout SeededGenerator, tanh: Bool = false) -> [Float] {
        (0..<count).map { _ in tanh ? Float.random(in: -0.999...0.999, using: &g) : Float.random(in: 0.001...0.999, using: &g) }
    }
    /// `gates` blocks `stride` apart as the forward pass records them: sigmoids, but for the
    /// third block (the LSTM's g, the GRU's n), a tanh.
    func recordedGates(_ gates: Int, stride: Int, _ g: inout SeededGenerator) -> [Float] {
        var values = activations(gates * stride, &g)
        values.replaceSubrange((2 * stride)..<(3 * stride), with: activations(stride, &g, tanh: true))
        return values
    }
    /// The error relative to the value's size where it is above 1 (inputs reach 40).
    static func relativeError(_ got: Float, _ want: Double) -> Double { abs(Double(got) - want) / max(1, abs(want)) }
    /// Past the units of each of `gates` blocks `stride` apart (the gaps, and past the last block):
    /// still the sentinel.
    static func gapsUntouched(_ buffer: [Float], gates: Int, stride: Int, units U: Int) -> Bool {
        (0..<gates).allSatisfy { gate in
            buffer[(gate * stride + U)..<(gate == gates - 1 ? buffer.count : (gate + 1) * stride)].allSatisfy { $0 == sentinel }
        }
    }

    @Test(arguments: VectorKernels.runnable)
    func lstmCellBackwardMatchesTheEquations(kernels: VectorKernels) {
        var rng = SeededGenerator(seed: 13)
        for U in Self.units {
            let stride = U + 3
            let gates = recordedGates(4, stride: stride, &rng)
            let tc = activations(U, &rng, tanh: true), cPrev = values(U, &rng), dy = values(U, &rng)
            let dh0 = values(U, &rng), dc0 = values(U, &rng)
            let padding = [Float](repeating: Self.sentinel, count: 16)
            var dh = dh0 + padding, dc = dc0 + padding
            let dg0 = [Float](repeating: Self.sentinel, count: 4 * stride + 16)
            var dg = dg0
            dh.withUnsafeMutableBufferPointer { dh in dc.withUnsafeMutableBufferPointer { dc in
                dg.withUnsafeMutableBufferPointer { dg in
                    kernels.lstmCellBackward(U, gates, stride, tc, cPrev, dy, dh.baseAddress, dc.baseAddress, dg.baseAddress)
                }
            }}
            var worst = 0.0
            let error = Self.relativeError
            for j in 0..<U {
                let i = Double(gates[j]), f = Double(gates[stride + j]), g = Double(gates[2 * stride + j])
                let o = Double(gates[3 * stride + j]), t = Double(tc[j])
                let dht = Double(dh0[j]) + Double(dy[j])
                let dct = Double(dc0[j]) + dht * o * (1 - t * t)
                let want = [dct * g * i * (1 - i), dct * Double(cPrev[j]) * f * (1 - f), dct * i * (1 - g * g),
                            dht * t * o * (1 - o)]
                for gate in 0..<4 { worst = max(worst, error(dg[gate * stride + j], want[gate])) }
                worst = max(worst, error(dc[j], dct * f), error(dh[j], 0))
            }
            #expect(worst < Self.tolerance, "\(kernels) U=\(U): worst error \(worst)")
            #expect(dh[U...].elementsEqual(padding) && dc[U...].elementsEqual(padding))
            #expect(Self.gapsUntouched(dg, gates: 4, stride: stride, units: U), "\(kernels) U=\(U)")
        }
    }

    @Test(arguments: VectorKernels.runnable)
    func gruCellBackwardMatchesTheEquations(kernels: VectorKernels) {
        var rng = SeededGenerator(seed: 14)
        for U in Self.units {
            let stride = U + 2
            let gates = recordedGates(3, stride: stride, &rng)
            let hPrev = activations(U, &rng, tanh: true), hn = values(U, &rng), dy = values(U, &rng), dh0 = values(U, &rng)
            let padding = [Float](repeating: Self.sentinel, count: 16)
            var dh = dh0 + padding
            let dg0 = [Float](repeating: Self.sentinel, count: 3 * stride + 16)
            var dgi = dg0, dgh = dg0
            dh.withUnsafeMutableBufferPointer { dh in dgi.withUnsafeMutableBufferPointer { dgi in
                dgh.withUnsafeMutableBufferPointer { dgh in
                    kernels.gruCellBackward(U, gates, stride, hPrev, hn, dy, dh.baseAddress, dgi.baseAddress, dgh.baseAddress)
                }
            }}
            var worst = 0.0
            let error = Self.relativeError
            for j in 0..<U {
                let r = Double(gates[j]), z = Double(gates[stride + j]), nj = Double(gates[2 * stride + j])
                let dht = Double(dh0[j]) + Double(dy[j])
                let dn = dht * (1 - z) * (1 - nj * nj)
                let dr = dn * Double(hn[j]) * r * (1 - r)
                let dz = dht * (Double(hPrev[j]) - nj) * z * (1 - z)
                let input = [dr, dz, dn], recurrent = [dr, dz, dn * r]
                for gate in 0..<3 {
                    worst = max(worst, error(dgi[gate * stride + j], input[gate]),
                                error(dgh[gate * stride + j], recurrent[gate]))
                }
                worst = max(worst, error(dh[j], dht * z))
            }
            #expect(worst < Self.tolerance, "\(kernels) U=\(U): worst error \(worst)")
            #expect(dh[U...].elementsEqual(padding))
            #expect(Self.gapsUntouched(dgi, gates: 3, stride: stride, units: U), "\(kernels) U=\(U) input")
            #expect(Self.gapsUntouched(dgh, gates: 3, stride: stride, units: U), "\(kernels) U=\(U) recurrent")
        }
    }
}

/// The column sums of the C kernels (rnnkit_column_sums: bias gradients) against the scalar loop, bit
/// for bit (each column sums its rows in order), for column counts below, at and past the 64-column
/// blocks and 16-lane vectors, on every build this CPU runs; nothing past the columns may be written.
@Suite struct ColumnSumKernelTests {
    @Test(arguments: VectorKernels.runnable)
    func columnSumsMatchTheLoopBitForBit(kernels: VectorKernels) {
        var rng = SeededGenerator(seed: 15)
        for rows in [1, 3, 37] {
            for columns in [1, 15, 16, 17, 63, 64, 65, 130, 200] {
                let ldm = columns + 3  // the gap at the end of each row is not summed
                let m = (0..<(rows * ldm)).map { _ in Float.random(in: -100...100, using: &rng) }
                let sentinel: Float = 12345, pad = [Float](repeating: sentinel, count: 16)
                let start = (0..<columns).map { _ in Float.random(in: -1...1, using: &rng) }
                var want = start
                for r in 0..<rows { for j in 0..<columns { want[j] += m[r * ldm + j] } }
                var sums = start + pad
                sums.withUnsafeMutableBufferPointer { kernels.columnSums(rows, columns, m, ldm, $0.baseAddress) }
                #expect(sums.prefix(columns).map(\.bitPattern) == want.map(\.bitPattern), "\(kernels) \(rows) × \(columns)")
                #expect(sums.suffix(16).allSatisfy { $0 == sentinel }, "\(kernels) \(rows) × \(columns)")
            }
        }
    }
}
