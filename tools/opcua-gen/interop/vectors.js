// vectors.js - prints the node-opcua encodings used by tests/unit/test_opcua_codec_interop.c.
//
// Each line is "<name> <hex>": a message built and encoded with node-opcua's own types
// (the implementation of the test peer), so the C codec is checked against an independent
// encoder. The test keeps the hex; rerun only to add vectors:
//   cd tools/opcua-gen/interop && npm ci && node vectors.js
"use strict";
const T = require("node-opcua-types");
const { ReadResponse, PublishResponse, DataChangeNotification, MonitoredItemNotification, NotificationMessage, BrowseResponse, BrowseResult, ReferenceDescription, EndpointDescription, GetEndpointsResponse, ApplicationDescription, UserTokenPolicy, Range, EUInformation, Argument } = require("node-opcua-types");
const { Variant, DataType, VariantArrayType } = require("node-opcua-variant");
const { DataValue } = require("node-opcua-data-value");
const { BinaryStream } = require("node-opcua-binary-stream");
const { StatusCodes } = require("node-opcua-status-code");
const { coerceNodeId, makeExpandedNodeId } = require("node-opcua-nodeid");

function hex(obj) {
  const s = new BinaryStream(obj.binaryStoreSize());
  obj.encode(s);
  return Buffer.from(s.buffer.subarray(0, s.length)).toString("hex");
}
const ts = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
const dvs = [
  new DataValue({ value: new Variant({ dataType: DataType.Double, value: 3.25 }), sourceTimestamp: ts, serverTimestamp: ts }),
  new DataValue({ value: new Variant({ dataType: DataType.String, arrayType: VariantArrayType.Array, value: ["a", "水", ""] }) }),
  new DataValue({ value: new Variant({ dataType: DataType.Int32, arrayType: VariantArrayType.Matrix, dimensions: [2, 2], value: new Int32Array([1, 2, 3, 4]) }) }),
  new DataValue({ value: new Variant({ dataType: DataType.LocalizedText, value: { locale: "en", text: "hello" } }) }),
  new DataValue({ value: new Variant({ dataType: DataType.NodeId, value: coerceNodeId("ns=2;s=Tag") }) }),
  new DataValue({ value: new Variant({ dataType: DataType.Guid, value: "72962B91-FA75-4AE6-8D28-B404DC7DAF63" }) }),
  new DataValue({ value: new Variant({ dataType: DataType.ByteString, value: Buffer.from([1, 2, 3]) }) }),
  new DataValue({ value: new Variant({ dataType: DataType.Boolean, arrayType: VariantArrayType.Array, value: [true, false] }) }),
  new DataValue({ statusCode: StatusCodes.BadNodeIdUnknown }),
  new DataValue({ value: new Variant({ dataType: DataType.DateTime, value: ts }) }),
  new DataValue({ value: new Variant({ dataType: DataType.ExtensionObject, value: new Range({ low: -1, high: 1 }) }) }),
  new DataValue({ value: new Variant({ dataType: DataType.ExtensionObject, value: new EUInformation({ namespaceUri: "http://www.opcfoundation.org/UA/units/un/cefact", unitId: 4408652, displayName: { text: "°C" }, description: { text: "degree Celsius" } }) }) }),
  new DataValue({ value: new Variant({ dataType: DataType.QualifiedName, value: { namespaceIndex: 1, name: "Q" } }) }),
  new DataValue({ value: new Variant({ dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: [0x01020304, 0x05060708] }) }),
  new DataValue({ value: new Variant({ dataType: DataType.Float, arrayType: VariantArrayType.Array, value: new Float32Array([1.5, -6.5]) }) }),
];
const rr = new ReadResponse({ responseHeader: { timestamp: ts, requestHandle: 7, serviceResult: StatusCodes.Good }, results: dvs });
console.log("read_response " + hex(rr));
const items = [];
for (let i = 0; i < 3; i++) items.push(new MonitoredItemNotification({ clientHandle: i, value: new DataValue({ value: new Variant({ dataType: DataType.Double, value: i * 1.5 }), sourceTimestamp: ts }) }));
const pr = new PublishResponse({ responseHeader: { timestamp: ts, requestHandle: 9 }, subscriptionId: 4, availableSequenceNumbers: [1, 2], moreNotifications: false,
  notificationMessage: new NotificationMessage({ sequenceNumber: 2, publishTime: ts, notificationData: [new DataChangeNotification({ monitoredItems: items })] }), results: [StatusCodes.Good] });
console.log("publish_response " + hex(pr));
const br = new BrowseResponse({ responseHeader: { timestamp: ts, requestHandle: 3 }, results: [new BrowseResult({ statusCode: StatusCodes.Good, continuationPoint: Buffer.from([9, 9]),
  references: [new ReferenceDescription({ referenceTypeId: coerceNodeId("i=35"), isForward: true, nodeId: makeExpandedNodeId(coerceNodeId("ns=1;i=1001")), browseName: { namespaceIndex: 1, name: "Boiler" }, displayName: { text: "Boiler" }, nodeClass: 1, typeDefinition: makeExpandedNodeId(coerceNodeId("i=58")) })] })] });
console.log("browse_response " + hex(br));
const ge = new GetEndpointsResponse({ responseHeader: { timestamp: ts, requestHandle: 1 }, endpoints: [new EndpointDescription({ endpointUrl: "opc.tcp://localhost:4840", server: new ApplicationDescription({ applicationUri: "urn:x", productUri: "urn:p", applicationName: { text: "X" }, applicationType: 0, discoveryUrls: ["opc.tcp://localhost:4840"] }), serverCertificate: Buffer.from([0x30, 0x82]), securityMode: 1, securityPolicyUri: "http://opcfoundation.org/UA/SecurityPolicy#None", userIdentityTokens: [new UserTokenPolicy({ policyId: "anonymous", tokenType: 0 })], transportProfileUri: "http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary", securityLevel: 0 })] });
console.log("get_endpoints_response " + hex(ge));
const arg = new Argument({ name: "x", dataType: coerceNodeId("i=11"), valueRank: -1, arrayDimensions: [], description: { text: "input" } });
console.log("argument " + hex(arg));

// ---- requests, events, faults
{
    const rh = { authenticationToken: coerceNodeId("ns=0;g=72962B91-FA75-4AE6-8D28-B404DC7DAF63"), timestamp: ts, requestHandle: 11, timeoutHint: 5000 };
    console.log("create_session_request " + hex(new T.CreateSessionRequest({ requestHeader: rh, clientDescription: new T.ApplicationDescription({ applicationUri: "urn:fieldplane", applicationName: { text: "fp" }, applicationType: 1 }), endpointUrl: "opc.tcp://h:4840", sessionName: "s1", clientNonce: Buffer.alloc(32, 7), clientCertificate: null, requestedSessionTimeout: 60000, maxResponseMessageSize: 0 })));
    const tok = new T.UserNameIdentityToken({ policyId: "username", userName: "user", password: Buffer.from([1, 2, 3, 4]), encryptionAlgorithm: "http://www.w3.org/2001/04/xmlenc#rsa-oaep" });
    console.log("activate_session_request " + hex(new T.ActivateSessionRequest({ requestHeader: rh, clientSignature: new T.SignatureData({ algorithm: null, signature: null }), localeIds: ["en"], userIdentityToken: tok, userTokenSignature: new T.SignatureData({}) })));
    const filter = new T.DataChangeFilter({ trigger: 1, deadbandType: 1, deadbandValue: 0.5 });
    console.log("create_monitored_items_request " + hex(new T.CreateMonitoredItemsRequest({ requestHeader: rh, subscriptionId: 3, timestampsToReturn: 2, itemsToCreate: [new T.MonitoredItemCreateRequest({ itemToMonitor: { nodeId: coerceNodeId("ns=2;s=Temp"), attributeId: 13 }, monitoringMode: 2, requestedParameters: { clientHandle: 42, samplingInterval: 100, filter, queueSize: 10, discardOldest: true } })] })));
    const ev = new T.EventFilter({ selectClauses: [new T.SimpleAttributeOperand({ typeDefinitionId: coerceNodeId("i=2041"), browsePath: [{ namespaceIndex: 0, name: "Message" }], attributeId: 13, indexRange: null })],
      whereClause: new T.ContentFilter({ elements: [new T.ContentFilterElement({ filterOperator: 14, filterOperands: [new T.LiteralOperand({ value: new Variant({ dataType: DataType.NodeId, value: coerceNodeId("ns=2;i=5000") }) })] })] }) });
    console.log("create_monitored_items_request_event " + hex(new T.CreateMonitoredItemsRequest({ requestHeader: rh, subscriptionId: 3, timestampsToReturn: 0, itemsToCreate: [new T.MonitoredItemCreateRequest({ itemToMonitor: { nodeId: coerceNodeId("i=2253"), attributeId: 12 }, monitoringMode: 2, requestedParameters: { clientHandle: 43, samplingInterval: 0, filter: ev, queueSize: 100, discardOldest: true } })] })));
    console.log("call_request " + hex(new T.CallRequest({ requestHeader: rh, methodsToCall: [new T.CallMethodRequest({ objectId: coerceNodeId("ns=2;i=1"), methodId: coerceNodeId("ns=2;i=2"), inputArguments: [new Variant({ dataType: DataType.Double, value: 2 }), new Variant({ dataType: DataType.String, value: "x" })] })] })));
    console.log("write_request " + hex(new T.WriteRequest({ requestHeader: rh, nodesToWrite: [new T.WriteValue({ nodeId: coerceNodeId("ns=2;s=W"), attributeId: 13, value: new DataValue({ value: new Variant({ dataType: DataType.Int16, value: -3 }) }) })] })));
    console.log("create_subscription_request " + hex(new T.CreateSubscriptionRequest({ requestHeader: rh, requestedPublishingInterval: 100, requestedLifetimeCount: 60, requestedMaxKeepAliveCount: 10, maxNotificationsPerPublish: 0, publishingEnabled: true, priority: 0 })));
    console.log("open_secure_channel_request " + hex(new T.OpenSecureChannelRequest({ requestHeader: { timestamp: ts, requestHandle: 1 }, clientProtocolVersion: 0, requestType: 0, securityMode: 1, clientNonce: null, requestedLifetime: 3600000 })));
    const evl = new T.EventNotificationList({ events: [new T.EventFieldList({ clientHandle: 43, eventFields: [new Variant({ dataType: DataType.LocalizedText, value: { text: "alarm" } }), new Variant({ dataType: DataType.UInt16, value: 500 })] })] });
    const sc = new T.StatusChangeNotification({ status: StatusCodes.BadTimeout, diagnosticInfo: {} });
    console.log("publish_response_events " + hex(new T.PublishResponse({ responseHeader: { timestamp: ts, requestHandle: 2, serviceDiagnostics: { symbolicId: 3, innerStatusCode: StatusCodes.BadTimeout } }, subscriptionId: 1, notificationMessage: { sequenceNumber: 9, publishTime: ts, notificationData: [evl, sc] }, diagnosticInfos: [{ additionalInfo: "info" }] })));
    console.log("service_fault " + hex(new T.ServiceFault({ responseHeader: { timestamp: ts, requestHandle: 5, serviceResult: StatusCodes.BadSessionIdInvalid, stringTable: ["a", "b"] } })));
    console.log("translate_request " + hex(new T.TranslateBrowsePathsToNodeIdsRequest({ requestHeader: rh, browsePaths: [new T.BrowsePath({ startingNode: coerceNodeId("i=85"), relativePath: { elements: [new T.RelativePathElement({ referenceTypeId: coerceNodeId("i=33"), isInverse: false, includeSubtypes: true, targetName: { namespaceIndex: 2, name: "Boiler" } })] } })] })));
}
