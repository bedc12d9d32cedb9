import Foundation
import RNNKit
import Testing

/// The `.ts` reader, sequence batches and scaling, and `rnnkit train|eval|predict sequences` on
/// small files the tests write.
@Suite struct SequenceTests {
    @Test func readsMultivariateVariableLengthWithMissingValues() throws {
        let text = "# comment\r\n@PROBLEMNAME Toy\r\n@Dimensions 2\r\n@EqualLength false\r\n@classlabel TRUE up down\r\n@DATA\r\n"
            + "1,?,3:4,5,6:down\r\n\r\n7,8:9,10:up\r\n"
        let data = try TSFile.parse(Array(text.utf8), path: "toy.ts")
        #expect(data.features == 2 && data.count == 2 && data.offsets == [0, 3, 5])
        #expect(data.labels == .classes([1, 0], names: ["up", "down"]))
        // Steps are rows of (dimension 1, dimension 2).
        #expect(data.values[0] == 1 && data.values[1] == 4 && data.values[2].isNaN && data.values[3] == 5)
        #expect(Array(data.values[6...]) == [7, 9, 8, 10])

        let regression = try TSFile.parse(Array("@targetLabel true\n@data\n0.5,1.5:2\n1:-1.25\n".utf8), path: "r.ts")
        #expect(regression.labels == .targets([2, -1.25], width: 1) && regression.features == 1 && regression.offsets == [0, 2, 3])
        let unlabelled = try TSFile.parse(Array("@classLabel false\n@data\n1,2\n3\n".utf8), path: "u.ts")
        #expect(unlabelled.labels == .none && unlabelled.count == 2)
    }

    @Test func refusesWhatItCannotRead() {
        for (text, fragment) in [
            ("@timestamps true\n@data\n(0,1):a\n", "line 1: time-stamped data"),
            ("@classLabel true a\n@targetLabel true\n@data\n", "both @classLabel true and @targetLabel true"),
            ("@classLabel true a\n@data\n1,2,3:4:a\n", "line 3: dimensions of different lengths"),
            ("@equalLength true\n@seriesLength 3\n@classLabel true a\n@data\n1,2:a\n", "line 5: a series of 2 values"),
            ("1,2\n", "line 1: text before @data"),
            ("@dimensions zero\n@data\n", "line 1: @dimensions needs a positive count"),
        ] {
            #expect(throws: DataError.self, "\(fragment)") { try TSFile.parse(Array(text.utf8), path: "bad.ts") }
            do {
                _ = try TSFile.parse(Array(text.utf8), path: "bad.ts")
            } catch {
                #expect(error.description.hasPrefix("bad.ts: ") && error.description.contains(fragment), "\(error)")
            }
        }
    }

    @Test func batchesPadAndSubsetsKeepLabels() throws {
        let data = SequenceDataset(features: 2, values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], offsets: [0, 1, 4, 6],
                                   labels: .classes([0, 1, 1], names: ["a", "b"]))
        let batch = data.examples([1, 0])
        #expect(batch.inputs.shape == [2, 3, 2] && batch.lengths == [3, 1] && batch.labels == [1, 0])
        #expect(batch.inputs.scalars == [3, 4, 5, 6, 7, 8, 1, 2, 0, 0, 0, 0])
        #expect(data.examples([2]).lengths == nil, "one full-length sample needs no lengths")
        let sub = data.subset([2, 0])
        #expect(sub.values == [9, 10, 11, 12, 1, 2] && sub.offsets == [0, 2, 3] && sub.labels == .classes([1, 0], names: ["a", "b"]))
    }

    /// Validation is spread over each class in proportion, by a fixed rule (no random draw).
    @Test func validationIsSpreadOverTheClasses() {
        // A file sorted by class: 4 of "a", 6 of "b"; the last two would both be "b".
        let ids = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
        let data = SequenceDataset(features: 1, values: (0..<10).map(Float.init), offsets: Array(0...10),
                                   labels: .classes(ids, names: ["a", "b"]))
        let (train, validation) = data.validationSplit(count: 2)
        #expect(validation == [2, 7] && train.count == 8 && Set(train + validation).count == 10)
        // Shuffled classes: positions ⌊(k + ½)·10/5⌋ = 1, 3, 5, 7, 9 of the class-sorted order.
        let mixed = SequenceDataset(features: 1, values: (0..<10).map(Float.init), offsets: Array(0...10),
                                    labels: .classes([1, 0, 1, 0, 1, 0, 1, 0, 1, 1], names: ["a", "b"]))
        #expect(mixed.validationSplit(count: 5).validation == [2, 3, 6, 7, 9], "two of the four a, three of the six b")
        let numbers = SequenceDataset(features: 1, values: (0..<10).map(Float.init), offsets: Array(0...10),
                                      labels: .targets((0..<10).map(Float.init), width: 1))
        #expect(numbers.validationSplit(count: 3).validation == [1, 5, 8] && numbers.validationSplit(count: 0).validation.isEmpty)
    }

    /// Mean and population standard deviation per column, NaN skipped; scaled missing values are 0.
    @Test func scalingUsesTheTrainingStatistics() {
        let values: [Float] = [1, 10, 3, .nan, 5, 30]
        let s = FeatureScaling.fit(values, width: 2)
        #expect(s.mean == [3, 20] && abs(s.standardDeviation[0] - (8.0 / 3).squareRoot()) < 1e-12 && s.standardDeviation[1] == 10)
        let scaled = s.apply(values)
        #expect(scaled[3] == 0 && abs(scaled[0] + Float((1.5).squareRoot())) < 1e-6 && scaled[5] == 1)
        #expect(FeatureScaling.fit([4, 4], width: 1).standardDeviation == [1], "a constant column keeps its scale")
        #expect(s.invert(s.apply([2, 25])) == [2, 25])
    }

    /// Padding never reaches the model: a sequence's logits are the same alone and in a padded
    /// batch, for both readouts and two directions.
    @Test(arguments: [Readout.last, .final])
    func paddingHasNoEffect(readout: Readout) throws {
        var g = SeededGenerator(seed: 4)
        let model = try SequenceClassifier<Float>(
            SequenceClassifierConfiguration(features: 3, recurrent: RecurrentConfiguration(cell: .gru, inputSize: 3, hiddenSize: 5,
                                                                                          isBidirectional: true),
                                            readout: readout, classes: 2), generator: &g)
        let data = SequenceDataset(features: 3, values: (0..<27).map { Float($0 % 7) / 7 }, offsets: [0, 2, 9], labels: .none)
        let alone = try model.logits(data.examples([0]).inputs)
        let batch = data.examples([0, 1])
        let padded = try model.logits(batch.inputs, lengths: batch.lengths)
        #expect(batch.lengths == [2, 7])
        #expect(try alone.maxAbsDifference(Tensor(shape: [1, 2], scalars: Array(padded.scalars[0..<2]))) <= 1e-6)
    }

    static func writeTS(_ dir: String, _ name: String, count: Int, regression: Bool = false, seed: UInt64) throws -> String {
        var g = SeededGenerator(seed: seed)
        func noise() -> Double { Double(g.next() % 1000) / 1000 - 0.5 }
        var lines = ["@problemName Toy", "@missing true", "@dimensions 2", "@equalLength false",
                     regression ? "@targetLabel true" : "@classLabel true rising falling", "@data"]
        for i in 0..<count {
            let length = 4 + Int(g.next() % 9), rising = i % 2 == 0
            let a = (0..<length).map { t in (rising ? 1.0 : -1.0) * 0.4 * Double(t) + 0.3 * noise() }
            let b = (0..<length).map { _ in noise() }
            let first = a.enumerated().map { t, v in t == 2 && i % 5 == 0 ? "?" : String(format: "%.4f", v) }.joined(separator: ",")
            let label = regression ? String(format: "%.4f", a.reduce(0, +) / Double(length)) : (rising ? "rising" : "falling")
            lines.append(first + ":" + b.map { String(format: "%.4f", $0) }.joined(separator: ",") + ":" + label)
        }
        let path = dir + "/" + name
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func lastJSON(_ stdout: String) throws -> [String: Any] {
        let line = try #require(stdout.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func trainEvaluatePredictAndResume() throws {
        let dir = NSTemporaryDirectory() + "rnnkit-seq-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = try Self.writeTS(dir, "train.ts", count: 120, seed: 1), test = try Self.writeTS(dir, "test.ts", count: 40, seed: 2)
        let flags = ["train", "sequences", "--data", train, "--hidden", "12", "--batch", "16", "--dropout", "0.1", "--lr", "0.01"]
        let r = try runRNNKit(flags + ["--epochs", "8", "--test", test, "--out", dir + "/a", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try lastJSON(r.stdout)
        #expect(try #require(json["test_accuracy"] as? Double) >= 0.95, "\(r.stdout)")
        #expect(json["test_macro_f1"] is Double && json["epochs"] as? Int == 8)
        #expect(r.stdout.contains("confusion matrix") && r.stdout.contains("rising"))
        let config = try String(contentsOfFile: dir + "/a/config.json", encoding: .utf8)
        #expect(config.contains("\"sequences\"") && config.contains("featureScaling") && config.contains("\"classification\""))

        let e = try runRNNKit(["eval", "sequences", "--model", dir + "/a", "--data", test, "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(try lastJSON(e.stdout)["test_accuracy"] as? Double == json["test_accuracy"] as? Double)
        let p = try runRNNKit(["predict", "sequences", "--model", dir + "/a", "--data", test, "--out", dir + "/p.csv"])
        #expect(p.status == 0, "\(p.stderr)")
        let rows = try String(contentsOfFile: dir + "/p.csv", encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 41 && rows[0] == "index,predicted,p_rising,p_falling" && rows[1].hasPrefix("0,rising,"))

        // Four epochs, a stop, and --resume to eight give the straight run's weights and metrics.
        #expect(try runRNNKit(flags + ["--epochs", "4", "--out", dir + "/b"]).status == 0)
        let resumed = try runRNNKit(["train", "sequences", "--resume", dir + "/b", "--epochs", "8"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/a/model.safetensors") == FileManager.default.contents(atPath: dir + "/b/model.safetensors"))
        #expect(try ReliabilityTests.metricsWithoutTimes(dir + "/a") == ReliabilityTests.metricsWithoutTimes(dir + "/b"))
    }

    @Test func regressionReportsErrorsInTheTargetsUnits() throws {
        let dir = NSTemporaryDirectory() + "rnnkit-seq-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = try Self.writeTS(dir, "train.ts", count: 120, regression: true, seed: 3)
        let test = try Self.writeTS(dir, "test.ts", count: 40, regression: true, seed: 4)
        let r = try runRNNKit(["train", "sequences", "--data", train, "--test", test, "--hidden", "12", "--batch", "16", "--lr", "0.01",
                               "--epochs", "15", "--out", dir + "/r", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try lastJSON(r.stdout)
        let mae = try #require(json["test_mae"] as? Double), rmse = try #require(json["test_rmse"] as? Double)
        // The targets (a window's mean slope) spread over about ±2: predicting their mean errs by about 1.
        #expect(mae > 0 && mae < 0.3 && rmse >= mae, "\(r.stdout)")
        let p = try runRNNKit(["predict", "sequences", "--model", dir + "/r", "--data", test])
        #expect(p.status == 0 && p.stdout.hasPrefix("index,prediction_0\n0,"), "\(p.stderr)")
        let wrong = try runRNNKit(["eval", "sequences", "--model", dir + "/r", "--data", Self.writeTS(dir, "c.ts", count: 4, seed: 5)])
        #expect(wrong.status != 0 && wrong.stderr.contains("has class labels but the model is a regressor"), "\(wrong.stderr)")
    }
}
