import Foundation
import RNNKit
import Testing
import ZIPFoundation

/// The NumPy and long-form CSV readers, tagging (labels per step), and `rnnkit train|eval|predict
/// sequences` on .npz and .csv files the tests write.
@Suite struct SequenceFileTests {
    /// Every fixture numpy wrote (Fixtures/numpy/make_numpy_fixtures.py) reads back as numpy reads it:
    /// floats of both widths and byte orders, integers, booleans, strings, Fortran order, header v2.
    @Test func readsWhatNumPyWrites() throws {
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL("numpy/expected.json")))
                                    as? [String: Any])
        var checked = 0
        for (name, entry) in expected where !name.hasSuffix(".npz") {
            let e = try #require(entry as? [String: Any])
            let array = try NumPy.read(path: fixtureURL("numpy/\(name).npy").path)
            #expect(array.shape == e["shape"] as? [Int], "\(name)")
            switch array.elements {
            case let .floats(v): #expect(v == (e["values"] as? [Double])?.map(Float.init), "\(name)")
            case let .integers(v): #expect(v == e["values"] as? [Int], "\(name)")
            case let .strings(v): #expect(v == e["values"] as? [String], "\(name)")
            }
            checked += 1
        }
        #expect(checked == 13)
    }

    @Test func archivesBecomeSequences() throws {
        let stored = try SequenceDataset.readNumPy(path: fixtureURL("numpy/sequences.npz").path)
        let x = try #require((try JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL("numpy/expected.json")))
                              as? [String: [String: Any]])?["sequences.npz"]?["x"] as? [Double]).map(Float.init)
        // lengths [4, 1, 2] of T = 4 steps of 2 features: each sequence keeps its own steps only.
        #expect(stored.offsets == [0, 4, 5, 7] && stored.features == 2 && !stored.labelsPerStep)
        #expect(stored.values == Array(x[0..<8]) + Array(x[8..<10]) + Array(x[16..<20]))
        #expect(stored.labels == .classes([1, 0, 1], names: ["a", "b"]))

        let deflated = try SequenceDataset.readNumPy(path: fixtureURL("numpy/tagging.npz").path)
        #expect(deflated.labelsPerStep && deflated.offsets == [0, 4, 5, 7])
        #expect(deflated.labels == .classes([0, 1, 1, 0, 2, 1, 1], names: ["0", "1", "2"]), "labels past each length are dropped")
        let batch = deflated.examples([1, 2])
        #expect(batch.labels == [2, 0, 1, 1] && batch.stepMask?.scalars == [1, 0, 1, 1] && batch.lengths == [1, 2])
        // Whole-number labels read as numbers when regression is asked for.
        let regression = try SequenceDataset.readNumPy(path: fixtureURL("numpy/tagging.npz").path, objective: .regression)
        #expect(regression.labels == .targets([0, 1, 1, 0, 2, 1, 1], width: 1))
    }

    @Test func numPyShapesAreChecked() throws {
        let x = NumPyArray(shape: [2, 3], elements: .floats([1, 2, 3, 4, 5, 6]), dtype: "<f4")
        for (y, lengths, fragment) in [
            (NumPyArray(shape: [3], elements: .integers([0, 1, 0]), dtype: "<i8"), nil as NumPyArray?, "y: shape (3,)"),
            (NumPyArray(shape: [2], elements: .floats([0, .nan]), dtype: "<f4"), nil, "y: label 1 is nan"),
            (nil, NumPyArray(shape: [2], elements: .integers([3, 4]), dtype: "<i8"), "lengths: sequence 1 has length 4"),
            (nil, NumPyArray(shape: [2], elements: .floats([1, 2]), dtype: "<f4"), "lengths: shape (2,), dtype <f4"),
        ] {
            do {
                _ = try SequenceDataset(numPy: x, labels: y, lengths: lengths, path: "d.npz")
                Issue.record("accepted: \(fragment)")
            } catch {
                #expect(error.description.hasPrefix("d.npz: ") && error.description.contains(fragment), "\(error)")
            }
        }
        // (N, T) is one feature per step.
        #expect(try SequenceDataset(numPy: x, labels: nil, lengths: nil, path: "d.npz").features == 1)
    }

    /// Long form: rows grouped by id in order of first appearance, sorted by the order column,
    /// missing values as NaN; a label that changes inside a sequence needs --per-step.
    @Test func longFormCSVGroupsSortsAndLabels() throws {
        let csv = "id,t,a,b,label\ns2,1,5,6,up\ns1,2,3,,down\ns1,1,1,2,down\ns2,0,\"7\",8,up\n"
        let table = try CSVTable.parse(Array(csv.utf8), path: "l.csv", columns: nil)
        let (data, ids, features) = try SequenceDataset.longForm(table, columns: LongFormColumns(id: "id", label: "label", order: "t"),
                                                                 perStep: false, objective: nil, path: "l.csv")
        #expect(ids == ["s2", "s1"] && features == ["a", "b"] && data.offsets == [0, 2, 4])
        #expect(Array(data.values[0..<6]) == [7, 8, 5, 6, 1, 2] && data.values[7].isNaN)
        #expect(data.labels == .classes([1, 0], names: ["down", "up"]))

        let steps = try SequenceDataset.longForm(table, columns: LongFormColumns(id: "id", features: ["b"], label: "t"),
                                                 perStep: true, objective: .regression, path: "l.csv").data
        #expect(steps.labelsPerStep && steps.features == 1 && steps.labels == .targets([1, 0, 2, 1], width: 1))

        for (columns, fragment) in [
            (LongFormColumns(id: "id", features: ["b"], label: "a"), "sequence 's2' changes a from '5' to '7' at data row 4"),
            (LongFormColumns(id: "sid", label: "label"), "no column 'sid'"),
            (LongFormColumns(id: "id", features: ["label"], label: "t"), "data row 1, column 'label' holds 'up'"),
        ] {
            do {
                _ = try SequenceDataset.longForm(table, columns: columns, perStep: false, objective: nil, path: "l.csv")
                Issue.record("accepted: \(fragment)")
            } catch {
                #expect(error.description.hasPrefix("l.csv: ") && error.description.contains(fragment), "\(error)")
            }
        }
        #expect(throws: DataError.self) { try CSVTable.parse(Array("a,b\n1,2\n3\n".utf8), path: "r.csv", columns: nil) }
    }

    /// Tagging: a step's logits depend only on the steps up to it, and padding changes nothing.
    @Test func taggerPredictsEveryStep() throws {
        var g = SeededGenerator(seed: 5)
        let model = try SequenceClassifier<Float>(
            SequenceClassifierConfiguration(features: 2, recurrent: RecurrentConfiguration(cell: .lstm, inputSize: 2, hiddenSize: 4),
                                            readout: .steps, classes: 3), generator: &g)
        let data = SequenceDataset(features: 2, values: (0..<14).map { Float($0) / 10 }, offsets: [0, 3, 7],
                                   labels: .classes([0, 1, 2, 0, 0, 1, 2], names: ["a", "b", "c"]), labelsPerStep: true)
        let batch = data.examples([0, 1])
        let logits = try model.logits(batch.inputs, lengths: batch.lengths)
        #expect(logits.shape == [2, 4, 3])
        let alone = try model.logits(data.examples([0]).inputs)
        #expect(try alone.maxAbsDifference(Tensor(shape: [1, 3, 3], scalars: Array(logits.scalars[0..<9]))) <= 1e-6)
        let e = try evaluate(model, on: data)
        #expect(e.confusion.joined().reduce(0, +) == 7, "every labelled step, and only those, is scored")
    }

    static func writeTaggingCSV(_ path: String, sequences: Int, seed: UInt64) throws {
        // The tag says whether the running sum of x is positive: a tagger must carry state.
        var g = SeededGenerator(seed: seed)
        var lines = ["sequence,x,noise,tag"]
        for s in 0..<sequences {
            var sum = 0.0
            for _ in 0..<(3 + Int(g.next() % 8)) {
                let x = Double(Int(g.next() % 2001) - 1000) / 1000, noise = Double(g.next() % 100) / 100
                sum += x
                lines.append("q\(s),\(x),\(noise),\(sum > 0 ? "pos" : "neg")")
            }
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
    }

    @Test func trainTagEvaluatePredictAndResumeOnCSV() throws {
        let dir = NSTemporaryDirectory() + "rnnkit-seqfile-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeTaggingCSV(dir + "/train.csv", sequences: 150, seed: 1)
        try Self.writeTaggingCSV(dir + "/test.csv", sequences: 40, seed: 2)
        let flags = ["train", "sequences", "--data", dir + "/train.csv", "--id", "sequence", "--label", "tag", "--per-step",
                     "--hidden", "16", "--batch", "16", "--lr", "0.02"]
        let r = try runRNNKit(flags + ["--epochs", "12", "--test", dir + "/test.csv", "--out", dir + "/a", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try SequenceTests().lastJSON(r.stdout)
        #expect(try #require(json["test_accuracy"] as? Double) >= 0.9, "\(r.stdout)")
        #expect(r.stdout.contains("readout steps") && r.stdout.contains("of every step"), "\(r.stdout)")

        // eval and predict read the columns the checkpoint names.
        let e = try runRNNKit(["eval", "sequences", "--model", dir + "/a", "--data", dir + "/test.csv", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(try SequenceTests().lastJSON(e.stdout)["test_accuracy"] as? Double == json["test_accuracy"] as? Double)
        let p = try runRNNKit(["predict", "sequences", "--model", dir + "/a", "--data", dir + "/test.csv"])
        #expect(p.status == 0, "\(p.stderr)")
        let rows = p.stdout.split(separator: "\n")
        let steps = try String(contentsOfFile: dir + "/test.csv", encoding: .utf8).split(separator: "\n").count - 1
        #expect(rows[0] == "index,id,step,predicted,p_neg,p_pos" && rows.count == steps + 1 && rows[1].hasPrefix("0,q0,0,"))

        // Resume continues exactly, reading the same columns.
        #expect(try runRNNKit(flags + ["--epochs", "6", "--out", dir + "/b"]).status == 0)
        let resumed = try runRNNKit(["train", "sequences", "--resume", dir + "/b", "--epochs", "12"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/a/model.safetensors") == FileManager.default.contents(atPath: dir + "/b/model.safetensors"))

        // Without --per-step the changing labels are refused, naming the way out.
        let refused = try runRNNKit(Array(flags.filter { $0 != "--per-step" }) + ["--epochs", "1", "--out", dir + "/c"])
        #expect(refused.status == 1 && refused.stderr.contains("Pass --per-step"), "\(refused.stderr)")
    }

    /// The same sequences as .npz and as long-form CSV (rows shuffled, --order restores them) train
    /// to the same weights.
    @Test func npzAndCSVAgree() throws {
        let dir = NSTemporaryDirectory() + "rnnkit-seqfile-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try TSFile.read(path: try SequenceTests.writeTS(dir, "t.ts", count: 30, seed: 9))
        // x (N, T, F) zero-padded, y class names, lengths: numpy's bytes written by hand.
        let T = source.maxSteps, F = source.features
        var x = [Float](repeating: 0, count: source.count * T * F), csv = ["id,step,a,b,label"]
        guard case let .classes(ids, names) = source.labels else { Issue.record("no classes"); return }
        for i in 0..<source.count {
            for t in 0..<source.length(i) {
                for f in 0..<F { x[(i * T + t) * F + f] = source.values[(source.offsets[i] + t) * F + f] }
            }
            for t in (0..<source.length(i)).reversed() {  // steps in reverse file order
                let v = (0..<F).map { source.values[(source.offsets[i] + t) * F + $0] }.map { $0.isNaN ? "" : "\($0)" }
                csv.append("s\(i),\(t),\(v.joined(separator: ",")),\(names[ids[i]])")
            }
        }
        let npz = dir + "/d.npz"
        try writeNPZ(npz, ["x": npy("<f4", [source.count, T, F], x.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }),
                           "y": npy("<U7", [source.count], ids.flatMap { utf32(names[$0], width: 7) }),
                           "lengths": npy("<i8", [source.count], (0..<source.count).flatMap {
                               withUnsafeBytes(of: Int64(source.length($0)).littleEndian, Array.init) })])
        try Data((csv.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: dir + "/d.csv"))
        let common = ["--hidden", "6", "--epochs", "2", "--batch", "8"]
        let a = try runRNNKit(["train", "sequences", "--data", npz, "--out", dir + "/a"] + common)
        let b = try runRNNKit(["train", "sequences", "--data", dir + "/d.csv", "--id", "id", "--order", "step", "--label", "label",
                               "--out", dir + "/b"] + common)
        #expect(a.status == 0 && b.status == 0, "\(a.stderr)\n\(b.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/a/model.safetensors") == FileManager.default.contents(atPath: dir + "/b/model.safetensors"))
    }
}

/// A `.npy` file's bytes: header version 1.0, padded to 64 bytes as numpy pads it.
func npy(_ descr: String, _ shape: [Int], _ data: [UInt8], fortran: Bool = false) -> [UInt8] {
    var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': ("
        + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",), }" : "), }")
    header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
    let n = header.utf8.count
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(header.utf8) + data
}

/// `text` as numpy's `<U width` elements: UTF-32 little-endian, zero-padded.
func utf32(_ text: String, width: Int) -> [UInt8] {
    let scalars = text.unicodeScalars.map(\.value) + Array(repeating: 0, count: width - text.unicodeScalars.count)
    return scalars.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
}

/// A `.npz` archive of `arrays`: a zip of NAME.npy members, deflated as `numpy.savez_compressed` writes them.
func writeNPZ(_ path: String, _ arrays: [String: [UInt8]]) throws {
    let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .create)
    for (name, bytes) in arrays.sorted(by: { $0.key < $1.key }) {
        try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(bytes.count), compressionMethod: .deflate) { position, size in
            Data(bytes[Int(position)..<(Int(position) + size)])
        }
    }
}
