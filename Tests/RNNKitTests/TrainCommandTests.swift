import Foundation
import RNNKit
import Testing

/// The `rnnkit train|eval|predict mnist` commands on toy data.
@Suite struct TrainCommandTests {
    static let tinyModel = ["--hidden", "8", "--batch", "25", "--validation", "50", "--seed", "7"]

    func lastJSON(_ stdout: String) throws -> [String: Any] {
        let line = try #require(stdout.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func trainWritesACheckpointAndJSON() throws {
        let dir = try writeToyMNIST()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runRNNKit(["train", "mnist", "--data", dir, "--epochs", "2", "--out", dir + "/run", "--json"] + Self.tinyModel)
        #expect(r.status == 0, "\(r.stderr)")
        let json = try lastJSON(r.stdout)
        #expect(json["epochs"] as? Int == 2 && json["model"] as? String == dir + "/run")
        #expect((json["test_accuracy"] as? Double).map { $0 >= 0 && $0 <= 1 } == true)
        #expect((json["train_samples_per_s"] as? Double).map { $0 > 0 } == true)
        #expect(json["test_loss"] is Double)
        for file in ["config.json", "model.safetensors", "training_state.safetensors", "metrics.jsonl", "curves.svg"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/run/" + file), "\(file)")
        }
        let metrics = try String(contentsOfFile: dir + "/run/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(metrics.count == 2)
        #expect(r.stdout.contains("epoch 2/2"))

        let e = try runRNNKit(["eval", "mnist", "--model", dir + "/run", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(try lastJSON(e.stdout)["test_accuracy"] as? Double == json["test_accuracy"] as? Double)
        #expect(e.stdout.contains("confusion matrix"))

        let p = try runRNNKit(["predict", "mnist", "--model", dir + "/run", "--index", "3"])
        #expect(p.status == 0, "\(p.stderr)")
        #expect(p.stdout.contains("true class 3"))
    }

    /// Training 3 epochs straight and 1 + resume to 3 give bit-identical weights and metrics.
    @Test func resumeContinuesExactly() throws {
        let dir = try writeToyMNIST(train: 150)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let flags = ["train", "mnist", "--data", dir, "--dropout", "0.2", "--layers", "2"] + Self.tinyModel
        let straight = try runRNNKit(flags + ["--epochs", "3", "--out", dir + "/a"])
        #expect(straight.status == 0, "\(straight.stderr)")
        let again = try runRNNKit(flags + ["--epochs", "3", "--out", dir + "/c"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/a/model.safetensors")
                == FileManager.default.contents(atPath: dir + "/c/model.safetensors"), "same seed and flags, same weights")
        let first = try runRNNKit(flags + ["--epochs", "1", "--out", dir + "/b"])
        #expect(first.status == 0, "\(first.stderr)")
        let resumed = try runRNNKit(["train", "mnist", "--resume", dir + "/b", "--epochs", "3"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("resuming"))
        #expect(FileManager.default.contents(atPath: dir + "/a/model.safetensors")
                == FileManager.default.contents(atPath: dir + "/b/model.safetensors"))
        // The training state matches too, except the wall-clock seconds it records.
        let (a, b) = (try ClassifierCheckpoint.load(from: dir + "/a", forResume: true),
                      try ClassifierCheckpoint.load(from: dir + "/b", forResume: true))
        #expect(a.optimizerState == b.optimizerState && !a.optimizerState.isEmpty)
        #expect(a.optimizerSteps == b.optimizerSteps)
        var (pa, pb) = (try #require(a.progress), try #require(b.progress))
        (pa.seconds, pb.seconds) = (0, 0)
        #expect(pa == pb)
        func withoutTimes(_ path: String) throws -> [String] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
                var o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                o["seconds"] = nil
                o["samplesPerSecond"] = nil
                return String(decoding: try JSONSerialization.data(withJSONObject: o, options: .sortedKeys), as: UTF8.self)
            }
        }
        #expect(try withoutTimes(dir + "/a/metrics.jsonl") == withoutTimes(dir + "/b/metrics.jsonl"))
    }

    @Test func missingDataSaysWhereAndHow() throws {
        let r = try runRNNKit(["train", "mnist", "--data", "/nonexistent/mnist"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("/nonexistent/mnist") && r.stderr.contains("apt-get install dataset-fashion-mnist")
                && r.stderr.contains("--data DIR"), "\(r.stderr)")
    }

    @Test(arguments: [
        (["--dropout", "1.5"], "--dropout must be a rate in [0, 1)"),
        (["--epochs", "2", "--samples", "100"], "give one of them"),
        (["--preset", "seed-gpt"], "unknown preset 'seed-gpt'"),
        (["--hidden", "0"], "--hidden must be at least 1"),
        (["--cell", "transformer"], "transformer"),
        (["--lr", "0"], "--lr must be a positive number"),
        (["--nesterov"], "--nesterov applies to --optimizer momentum"),
    ])
    func badFlagsGiveClearErrors(flags: [String], message: String) throws {
        let r = try runRNNKit(["train", "mnist"] + flags)
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }
}
