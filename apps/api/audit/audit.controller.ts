import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorCode } from '@mlis/contracts';
import { RequireScopes } from '../auth/auth.decorators';
import { ApiErrorResponses } from '../common/error-response.dto';
import { AuditPageDto, AuditQueryDto } from './audit.dto';
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
}
