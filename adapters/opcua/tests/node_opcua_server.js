// A node-opcua server (a server we did not write) exposing known variables, for the kit's
// interop tests and bench/opcua_subscribe.py.
//
//   node node_opcua_server.js --port P --pki DIR [--bench N] [--interval MS]
//
// Namespace "urn:kit-interop:node-opcua", string NodeIds:
//   Constant (Double 42.5), Name (String "node-opcua"), Flag (Boolean true),
//   Counter (UInt32, +1 every --interval ms), Stamped (Double 7.25, SourceTimestamp 2024-01-02T03:04:05Z),
//   Broken (Double, StatusCode BadSensorFailure), Bench.v0000..v<N-1> (Double, all change every --interval ms).
// Prints "READY <port>" on stdout once listening. Node and npm come from tests/interop (npm ci).
const path = require("path");
const opcua = require("node-opcua");

function arg(name, dflt) {
  const i = process.argv.indexOf("--" + name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

(async () => {
  const port = parseInt(arg("port", "4840"), 10);
  const pkiDir = arg("pki", path.join(__dirname, ".node-opcua-pki"));
  const nBench = parseInt(arg("bench", "0"), 10);
  const interval = parseInt(arg("interval", "100"), 10);
  const serverCertificateManager = new opcua.OPCUACertificateManager({
    automaticallyAcceptUnknownCertificate: true, // the kit's side of trust is what these tests check
    rootFolder: path.join(pkiDir, "server"),
  });
  await serverCertificateManager.initialize();
  const server = new opcua.OPCUAServer({
    port,
    hostname: "127.0.0.1",
    serverCertificateManager,
    buildInfo: { productName: "node-opcua interop server", manufacturerName: "node-opcua", softwareVersion: "interop" },
    securityPolicies: [opcua.SecurityPolicy.None, opcua.SecurityPolicy.Basic256Sha256,
      opcua.SecurityPolicy.Aes128_Sha256_RsaOaep, opcua.SecurityPolicy.Aes256_Sha256_RsaPss],
    securityModes: [opcua.MessageSecurityMode.None, opcua.MessageSecurityMode.Sign, opcua.MessageSecurityMode.SignAndEncrypt],
    maxConnectionsPerEndpoint: 50,
    serverCapabilities: { maxMonitoredItems: 100000, maxMonitoredItemsPerSubscription: 100000 },
  });
  await server.initialize();
  const as = server.engine.addressSpace;
  const ns = as.registerNamespace("urn:kit-interop:node-opcua");
  const dev = ns.addObject({ organizedBy: as.rootFolder.objects, browseName: "Interop" });
  const v = (name, dataType, value) => ns.addVariable({ componentOf: dev, browseName: name, nodeId: "s=" + name,
    dataType, value: { dataType: opcua.DataType[dataType], value } });
  v("Constant", "Double", 42.5);
  v("Name", "String", "node-opcua");
  v("Flag", "Boolean", true);
  const counter = v("Counter", "UInt32", 0);
  const stamped = v("Stamped", "Double", 0);
  stamped.setValueFromSource({ dataType: opcua.DataType.Double, value: 7.25 }, opcua.StatusCodes.Good,
    new Date(Date.UTC(2024, 0, 2, 3, 4, 5)));
  const broken = v("Broken", "Double", 0);
  broken.setValueFromSource({ dataType: opcua.DataType.Double, value: 0 }, opcua.StatusCodes.BadSensorFailure);
  const bench = [];
  if (nBench > 0) {
    const folder = ns.addObject({ organizedBy: as.rootFolder.objects, browseName: "Bench" });
    for (let i = 0; i < nBench; i++) {
      const name = "v" + String(i).padStart(4, "0");
      bench.push(ns.addVariable({ componentOf: folder, browseName: name, nodeId: "s=Bench." + name, dataType: "Double",
        value: { dataType: opcua.DataType.Double, value: 0 } }));
    }
  }
  let tick = 0;
  setInterval(() => {
    tick += 1;
    const now = new Date();
    counter.setValueFromSource({ dataType: opcua.DataType.UInt32, value: tick }, opcua.StatusCodes.Good, now);
    for (let i = 0; i < bench.length; i++) {
      bench[i].setValueFromSource({ dataType: opcua.DataType.Double, value: tick + i / 10000 }, opcua.StatusCodes.Good, now);
    }
  }, interval);
  await server.start();
  process.stdout.write("READY " + server.endpoints[0].port + "\n");
  const stop = async () => { await server.shutdown(100); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
})().catch((err) => { console.error(err); process.exit(1); });
