// The bench's upstream: answers EC2 DescribeInstances with a small
// DescribeInstancesResponse and S3 GETs with 1 KiB, as fast as Node's http
// server can. It verifies nothing: the bench measures the boxes in between.
import { createServer } from 'node:http';

const EC2 = '<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>bench</requestId><reservationSet/></DescribeInstancesResponse>';
const OBJECT = Buffer.alloc(1024, 0x61);
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.method === 'POST') {
      res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8', 'content-length': Buffer.byteLength(EC2), 'x-amzn-requestid': 'bench' });
      res.end(EC2);
    } else {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': OBJECT.length, 'x-amz-request-id': 'bench', etag: '"bench"' });
      res.end(OBJECT);
    }
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => console.log(`listening http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
