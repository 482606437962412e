import { Module } from '@nestjs/common';
import { StreamController } from './stream.controller';
import { StreamService } from './stream.service';
import { StreamTickets } from './stream-tickets';

@Module({
  controllers: [StreamController],
  providers: [StreamTickets, StreamService],
})
export class StreamModule {}
