import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorCode } from '@mlis/contracts';
import { RequireScopes } from '../auth/auth.decorators';
import { ApiErrorResponses } from '../common/error-response.dto';
import { AuditExportPageDto, AuditExportQueryDto, AuditPageDto, AuditQueryDto } from './audit.dto';
import { AuditService } from './audit.service';

@ApiTags('audit')
@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @RequireScopes('admin:audit')
  @ApiOperation({ summary: 'Audit events, newest first, with filters (scope admin:audit)' })
  @ApiOkResponse({ type: AuditPageDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden, ApiErrorCode.ValidationFailed)
  list(@Query() query: AuditQueryDto): Promise<AuditPageDto> {
    return this.audit.list(query);
  }

  @Get('export')
  @RequireScopes('admin:audit')
  @ApiOperation({
    summary: 'Every audit event, oldest first, from a cursor: a complete feed for a log shipper (scope admin:audit)',
    description:
      'Follow next_cursor from page to page, and keep it to resume: no event is missed or repeated, even one whose ' +
      'transaction commits after a later event was exported. An event is exported once its transaction and every ' +
      'transaction that began writing before it have ended (usually milliseconds). has_more false: poll again later.',
  })
  @ApiOkResponse({ type: AuditExportPageDto })
  @ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden, ApiErrorCode.ValidationFailed)
  exportPage(@Query() query: AuditExportQueryDto): Promise<AuditExportPageDto> {
    return this.audit.exportPage(query);
  }
}
