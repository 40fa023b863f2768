// The OPC UA connector's events and management actions end to end: the node-opcua test peer
// (tests/peers/opcua, raising FieldplaneTestEventType with a growing Sequence on the Server
// object), a real registry, a real mosquitto and fieldplane-connector-opcua. Events are read
// as a subscriber sees them; actions go through MQTT 5 request/response (response topic and
// correlation data) like any client's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, Mosquitto, waitFor } from './lib/registry.mjs';
import { Connector, MqttSub, mqttPub, mqttRequest } from './lib/connector.mjs';
import { startPeer } from '../peers/opcua/harness.mjs';

let reg;
let mq;
let peer;
let conn;

before(async () => {
  [reg, mq, peer] = await Promise.all([
    new Registry().start(),
    new Mosquitto().start(),
    startPeer(['--event-interval', '300']),
  ]);
  conn = await new Connector({ name: 'opcua', registry: reg, broker: mq }).start();
});

after(async () => {
  try {
    await conn?.stopClean();
  } finally {
    await conn?.cleanup();
    await peer?.stop();
    await reg?.cleanup();
    await mq?.cleanup();
  }
});

async function put(path, body) {
  const r = await reg.req('PUT', path, body);
  assert.ok(r.status === 200 || r.status === 201, `PUT ${path}: ${r.status} ${r.text}`);
  return r.body;
}

async function setup(ns) {
  await put(`/api/v1/namespaces/${ns}`, { properties: {} });
  await put(`/api/v1/namespaces/${ns}/devices/peer`, {
    properties: {
      endpoints: {
        inbound: {
          ua: {
            endpointType: 'Microsoft.OpcUa',
            address: peer.url,
            additionalConfiguration: JSON.stringify({ security: { autoAcceptUntrustedServerCertificates: true } }),
          },
        },
      },
    },
  });
}

async function status(ns, name) {
  const r = await reg.req('GET', `/api/v1/namespaces/${ns}/assets/${name}/status`);
  return r.body ?? {};
}

function explain(what) {
  return `${what}; connector log: ${conn.log.slice(-3000)}`;
}

test('an event group with select clauses: one message per event with the selected fields', async () => {
  await setup('uaev-a');
  const sub = await new MqttSub(mq.port, 'uaev-a/#').start();
  try {
    await put('/api/v1/namespaces/uaev-a/assets/boiler', {
      properties: {
        deviceRef: { deviceName: 'peer', endpointName: 'ua' },
        eventGroups: [
          {
            name: 'alarms',
            dataSource: 'i=2253',
            eventGroupConfiguration: JSON.stringify({ publishingInterval: 100, queueSize: 50 }),
            events: [
              {
                name: 'test',
                eventConfiguration: JSON.stringify({
                  eventFilter: {
                    typeDefinitionId: 'ns=1;s=FieldplaneTestEventType',
                    selectClauses: [
                      { browsePath: '/Message' },
                      { browsePath: 'Severity' },
                      { browsePath: '/1:Sequence', typeDefinitionId: 'ns=1;s=FieldplaneTestEventType' },
                      { browsePath: '/Time' },
                    ],
                  },
                }),
                destinations: [{ target: 'Mqtt', configuration: { topic: 'uaev-a/boiler/events', qos: 'Qos1' } }],
              },
              {
                name: 'defaults',
                destinations: [{ target: 'Mqtt', configuration: { topic: 'uaev-a/boiler/all' } }],
              },
              {
                name: 'nowhere',
                dataSource: 'ns=1;s=NoSuchNode',
                destinations: [{ target: 'Mqtt', configuration: { topic: 'uaev-a/boiler/nowhere' } }],
              },
              {
                // Each clause's own typeDefinitionId is sent (this peer resolves the field on
                // the event itself whatever the type, as servers may).
                name: 'typed',
                eventConfiguration: JSON.stringify({
                  eventFilter: {
                    selectClauses: [
                      { browsePath: '/1:Sequence', typeDefinitionId: 'ns=1;s=FieldplaneTestEventType' },
                      { browsePath: '/Message', typeDefinitionId: 'ns=1;s=NoSuchEventType', fieldId: 'unknownType' },
                    ],
                  },
                }),
                destinations: [{ target: 'Mqtt', configuration: { topic: 'uaev-a/boiler/typed' } }],
              },
              {
                name: 'badtype',
                eventConfiguration: JSON.stringify({
                  eventFilter: { selectClauses: [{ browsePath: '/Message' }, { browsePath: '/Severity', typeDefinitionId: 'no node id' }] },
                }),
                destinations: [{ target: 'Mqtt', configuration: { topic: 'uaev-a/boiler/badtype' } }],
              },
              {
                name: 'deep',
                eventConfiguration: JSON.stringify({
                  eventFilter: { selectClauses: [{ browsePath: '/Message' }, { browsePath: '/EnabledState/Id' }] },
                }),
                destinations: [{ target: 'Mqtt', configuration: { topic: 'uaev-a/boiler/deep' } }],
              },
            ],
          },
        ],
      },
    });
    const isEvent = (x) => x.topic === 'uaev-a/boiler/events';
    await sub.waitFor((x) => isEvent(x) && sub.messages.filter(isEvent).length >= 4, explain('four events'), 60000);
    const events = sub.messages.filter(isEvent);
    for (const m of events) {
      assert.deepEqual(Object.keys(m.json), ['Message', 'Severity', 'Sequence', 'Time'], m.payload);
      assert.equal(m.json.Message, `test event ${m.json.Sequence}`);
      assert.equal(m.json.Severity, 100 + (m.json.Sequence % 900));
      assert.equal(m.props.type, 'Event');
      assert.equal(m.props.subject, 'boiler/alarms/test');
      assert.equal(m.props.specversion, '1.0');
      assert.equal(Date.parse(m.props.time), Date.parse(m.json.Time), 'CloudEvents time is the event Time');
      assert.equal(m.qos, 1);
    }
    // One message per event: consecutive sequence numbers, none twice.
    const seqs = events.map((m) => m.json.Sequence);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `sequence ${seqs}`);

    // Without select clauses: the default fields, from every event on the Server object.
    const all = await sub.waitFor((x) => x.topic === 'uaev-a/boiler/all', explain('an event with default fields'));
    for (const k of ['EventId', 'EventType', 'SourceName', 'Time', 'Message', 'Severity']) {
      assert.ok(k in all.json, `${k} in ${all.payload}`);
    }
    assert.equal(all.props.subject, 'boiler/alarms/defaults');

    // A bad node is reported on its own event; the others flowed all along.
    const st = await waitFor(async () => {
      const s = await status('uaev-a', 'boiler');
      const evs = s.eventGroups?.[0]?.events ?? [];
      const by = (n) => evs.find((e) => e.name === n);
      return by('nowhere')?.health?.status === 'Unavailable' && by('test')?.health?.status === 'Available' && evs;
    }, explain('event health in status'), 30000);
    const nowhere = st.find((e) => e.name === 'nowhere');
    const badtype = await waitFor(async () => {
      const s = await status('uaev-a', 'boiler');
      const e = (s.eventGroups?.[0]?.events ?? []).find((x) => x.name === 'badtype');
      return e?.health?.status === 'Unavailable' && e;
    }, explain('health of an event with a bad typeDefinitionId'), 30000);
    assert.match(JSON.stringify(badtype.health), /selectClauses\[1\]\.typeDefinitionId \\"no node id\\"/, JSON.stringify(badtype));
    const typed = await sub.waitFor((x) => x.topic === 'uaev-a/boiler/typed', explain('an event with typed clauses'));
    assert.deepEqual(Object.keys(typed.json), ['Sequence', 'unknownType'], typed.payload);
    assert.equal(typeof typed.json.Sequence, 'number');
    assert.equal(typed.json.unknownType, `test event ${typed.json.Sequence}`);
    assert.match(JSON.stringify(nowhere.health), /BadNodeIdUnknown|BadNodeIdInvalid/, JSON.stringify(nowhere));
    assert.ok(!sub.messages.some((x) => x.topic === 'uaev-a/boiler/nowhere'));
    // A path of several elements is selected as it is and keyed by its last element (the
    // test event has no EnabledState: the server answers null for it).
    const deep = await sub.waitFor((x) => x.topic === 'uaev-a/boiler/deep', explain('an event with a two-element path'));
    assert.deepEqual(Object.keys(deep.json), ['Message', 'Id'], deep.payload);
    assert.equal(deep.json.Id, null);

    // A changed filter applies in place: fieldId names the member.
    const cur = (await reg.req('GET', '/api/v1/namespaces/uaev-a/assets/boiler')).body;
    cur.properties.eventGroups[0].events[0].eventConfiguration = JSON.stringify({
      eventFilter: { selectClauses: [{ browsePath: '1:Sequence', fieldId: 'seq' }, { browsePath: '/Message' }] },
    });
    await put('/api/v1/namespaces/uaev-a/assets/boiler', cur);
    const renamed = await sub.waitFor((x) => isEvent(x) && x.json && 'seq' in x.json, explain('events after the change'));
    assert.deepEqual(Object.keys(renamed.json), ['seq', 'Message']);
    assert.equal(renamed.json.Message, `test event ${renamed.json.seq}`);

    // Deleting the asset stops its events.
    await reg.req('DELETE', '/api/v1/namespaces/uaev-a/assets/boiler');
    await new Promise((r) => setTimeout(r, 1500));
    const count = sub.messages.length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(sub.messages.length, count, 'no events after delete');
  } finally {
    await sub.stop();
  }
});

test('Call, Read and Write actions over MQTT 5 request/response', async () => {
  await setup('uaev-b');
  const replies = await new MqttSub(mq.port, 'uaev-b/replies/#').start();
  try {
    const t = (n) => `uaev-b/press/${n}`;
    await put('/api/v1/namespaces/uaev-b/assets/press', {
      properties: {
        deviceRef: { deviceName: 'peer', endpointName: 'ua' },
        managementGroups: [
          {
            name: 'methods',
            dataSource: 'ns=1;s=Methods',
            actions: [
              { name: 'add', targetUri: 'ns=1;s=Methods.Add', actionType: 'Call', topic: t('add') },
              { name: 'concat', targetUri: 'ns=1;s=Methods.Concat', actionType: 'Call', topic: t('concat') },
              { name: 'fail', targetUri: 'ns=1;s=Methods.Fail', actionType: 'Call', topic: t('fail') },
              { name: 'missing', targetUri: 'ns=1;s=Methods.Nope', actionType: 'Call', topic: t('missing') },
            ],
          },
          {
            name: 'values',
            actions: [
              { name: 'readInt', targetUri: 'ns=1;s=Scalar.Int32', actionType: 'Read', topic: t('read') },
              { name: 'writeInt', targetUri: 'ns=1;s=Writable.Int32', actionType: 'Write', topic: t('write') },
              { name: 'readBack', targetUri: 'ns=1;s=Writable.Int32', actionType: 'Read', topic: t('readback') },
              { name: 'writeRo', targetUri: 'ns=1;s=Scalar.ReadOnly', actionType: 'Write', topic: t('writero') },
            ],
          },
        ],
      },
    });
    let n = 0;
    // Send a request; resolves to the reply (retries while the action is not subscribed yet).
    const ask = (action, payload, timeoutMs = 30000) =>
      mqttRequest({ port: mq.port, replies, topic: t(action), payload, replyPrefix: 'uaev-b/replies', id: `c${++n}`, timeoutMs, explain });

    const add = await ask('add', JSON.stringify({ a: 2, b: 3 }));
    assert.equal(add.props.status, '200', add.payload);
    assert.deepEqual(add.json, { sum: 5 });
    const addArr = await ask('add', '[40, 2]');
    assert.deepEqual(addArr.json, { sum: 42 });
    const concat = await ask('concat', JSON.stringify({ a: 'field', b: 'plane' }));
    assert.deepEqual(concat.json, { ab: 'fieldplane' });

    const fail = await ask('fail', '{}');
    assert.notEqual(fail.props.status, '200', fail.payload);
    assert.equal(fail.json.error.code, 'BadInvalidArgument', fail.payload);
    const missingArg = await ask('add', JSON.stringify({ a: 2 }));
    assert.equal(missingArg.props.status, '400', missingArg.payload);
    assert.equal(missingArg.json.error.code, 'BadArgumentsMissing');
    assert.match(missingArg.json.error.message, /"b"/);
    const badType = await ask('add', JSON.stringify({ a: 'two', b: 3 }));
    assert.equal(badType.props.status, '400', badType.payload);
    assert.equal(badType.json.error.code, 'BadTypeMismatch');
    const unknown = await ask('missing', '{}');
    assert.equal(unknown.props.status, '404', unknown.payload);
    assert.match(unknown.json.error.code, /BadNodeIdUnknown|BadMethodInvalid/);

    const read = await ask('read', '{}');
    assert.equal(read.props.status, '200', read.payload);
    assert.equal(read.json.Value, -123456);
    assert.ok(!Number.isNaN(Date.parse(read.json.SourceTimestamp ?? new Date().toISOString())));

    const write = await ask('write', JSON.stringify({ Value: 4242 }));
    assert.equal(write.props.status, '200', write.payload);
    assert.deepEqual(write.json, { StatusCode: 'Good' });
    const back = await ask('readback', '{}');
    assert.equal(back.json.Value, 4242);
    const bare = await ask('write', '-7');
    assert.deepEqual(bare.json, { StatusCode: 'Good' });
    assert.equal((await ask('readback', '{}')).json.Value, -7);
    const wrong = await ask('write', JSON.stringify({ Value: 'not a number' }));
    assert.equal(wrong.props.status, '400', wrong.payload);
    assert.equal(wrong.json.error.code, 'BadTypeMismatch');

    const ro = await ask('writero', JSON.stringify({ Value: 1 }));
    assert.equal(ro.props.status, '403', ro.payload);
    assert.match(ro.json.error.code, /BadNotWritable|BadUserAccessDenied/);
  } finally {
    await replies.stop();
  }
});
