// A bare subscriber process for the raw PUBLISH floor: no service, no validation, no telemetry.
// Each message starts with its publish time (epoch ms); on the message "<time> end" it prints
// every lag (ms) as JSON and exits.
const { Redis } = require('ioredis');

const [url, channel] = process.argv.slice(2);
const redis = new Redis(url);
const lags = [];
redis.on('message', (_channel, payload) => {
  const space = payload.indexOf(' ');
  if (payload.slice(space + 1) === 'end') {
    process.stdout.write(`${JSON.stringify(lags)}\n`, () => process.exit(0));
    return;
  }
  lags.push(performance.timeOrigin + performance.now() - Number(payload.slice(0, space)));
});
redis.subscribe(channel).then(() => process.stdout.write('ready\n'));
